// Command git-server serves git repositories over smart HTTP and plain files, for the tests of
// LocustTest sources on the local cluster (no registry or forge is reachable from there).
//
// At startup every <name>.bundle in $GIT_SERVER_SEED (a git bundle, e.g. from a ConfigMap) is
// cloned as the bare repository <name>.git under $GIT_SERVER_ROOT. Then it serves, on
// $GIT_SERVER_ADDR (default :8080):
//
//	/git/<name>.git/...      the repository through `git http-backend` (CGI): clone and fetch
//	/private/<name>.git/...  the same, only with HTTP Basic auth whose password (or a Bearer
//	                         token) equals $GIT_SERVER_TOKEN (401 otherwise)
//	/files/<path>            the files of $GIT_SERVER_FILES (archives, wheels), read-only
//	/healthz                 200 once the repositories are ready
//
// Requests are logged without their Authorization header.
package main

import (
	"crypto/subtle"
	"encoding/base64"
	"log"
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

func env(name, fallback string) string {
	if value := os.Getenv(name); value != "" {
		return value
	}
	return fallback
}

func seed(seedDir, root string) error {
	bundles, err := filepath.Glob(filepath.Join(seedDir, "*.bundle"))
	if err != nil {
		return err
	}
	for _, bundle := range bundles {
		name := strings.TrimSuffix(filepath.Base(bundle), ".bundle") + ".git"
		target := filepath.Join(root, name)
		if _, err := os.Stat(target); err == nil {
			continue
		}
		out, err := exec.Command("git", "clone", "--quiet", "--mirror", bundle, target).CombinedOutput()
		if err != nil {
			log.Printf("seeding %s: %v: %s", name, err, out)
			return err
		}
		log.Printf("serving repository %s", name)
	}
	return nil
}

func authorized(r *http.Request, token string) bool {
	header := r.Header.Get("Authorization")
	var given string
	switch {
	case strings.HasPrefix(header, "Bearer "):
		given = strings.TrimPrefix(header, "Bearer ")
	case strings.HasPrefix(header, "Basic "):
		decoded, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(header, "Basic "))
		if err != nil {
			return false
		}
		_, password, _ := strings.Cut(string(decoded), ":")
		given = password
	}
	return token != "" && subtle.ConstantTimeCompare([]byte(given), []byte(token)) == 1
}

func backend(root, prefix string) http.Handler {
	handler := &cgi.Handler{
		Path: "/usr/bin/git",
		Args: []string{"http-backend"},
		Env: []string{
			"GIT_PROJECT_ROOT=" + root,
			"GIT_HTTP_EXPORT_ALL=1",
			// Let clients fetch any commit by its id (a ref may be a commit).
			"GIT_CONFIG_COUNT=2",
			"GIT_CONFIG_KEY_0=uploadpack.allowAnySHA1InWant",
			"GIT_CONFIG_VALUE_0=true",
			"GIT_CONFIG_KEY_1=safe.directory",
			"GIT_CONFIG_VALUE_1=*",
		},
	}
	return http.StripPrefix(prefix, handler)
}

type logged struct{ next http.Handler }

type recorder struct {
	http.ResponseWriter
	status int
}

func (r *recorder) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}

func (l logged) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &recorder{ResponseWriter: w, status: http.StatusOK}
	l.next.ServeHTTP(rec, r)
	if r.URL.Path != "/healthz" {
		log.Printf("%s %s -> %d", r.Method, r.URL.Path, rec.status)
	}
}

func main() {
	root := env("GIT_SERVER_ROOT", "/srv/git")
	if err := os.MkdirAll(root, 0o755); err != nil {
		log.Fatal(err)
	}
	if err := seed(env("GIT_SERVER_SEED", "/seed"), root); err != nil {
		log.Fatal(err)
	}
	token := os.Getenv("GIT_SERVER_TOKEN")

	mux := http.NewServeMux()
	mux.Handle("/git/", backend(root, "/git"))
	private := backend(root, "/private")
	mux.HandleFunc("/private/", func(w http.ResponseWriter, r *http.Request) {
		if !authorized(r, token) {
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		private.ServeHTTP(w, r)
	})
	files := env("GIT_SERVER_FILES", "/srv/files")
	mux.Handle("/files/", http.StripPrefix("/files/", http.FileServer(http.Dir(files))))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})

	server := &http.Server{
		Addr:              env("GIT_SERVER_ADDR", ":8080"),
		Handler:           logged{mux},
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() {
		stop := make(chan os.Signal, 1)
		signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
		<-stop
		_ = server.Close()
	}()
	log.Printf("listening on %s", server.Addr)
	if err := server.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		log.Fatal(err)
	}
}
