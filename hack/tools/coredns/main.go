// CoreDNS with only the plugins the local cluster's DNS needs: answering for Services and
// pods from the apiserver (kubernetes), bound to the node link address (bind), with a
// short cache. Fewer plugins than upstream's build keeps the download and build small.
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/log"
)

// The order in which plugins handle a query, as upstream's plugin.cfg orders them.
var directives = []string{"bind", "health", "errors", "log", "cache", "kubernetes"}

func init() {
	dnsserver.Directives = directives
}

func main() {
	coremain.Run()
}
