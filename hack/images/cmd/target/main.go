// Command target is the HTTP service load tests hit on the local cluster: 200 on any path,
// 500 on /fail (and below it), and the requests it answered by path on GET /__count, so a test
// can compare what reached the target with what Locust reported. POST /__reset zeroes them.
package main

import (
	"encoding/json"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
)

type counter struct {
	mu     sync.Mutex
	total  int64
	byPath map[string]int64
}

func (c *counter) add(path string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.total++
	c.byPath[path]++
}

func (c *counter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/__count":
		c.mu.Lock()
		body, _ := json.Marshal(map[string]any{"total": c.total, "paths": c.byPath})
		c.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	case r.URL.Path == "/__reset" && r.Method == http.MethodPost:
		c.mu.Lock()
		c.total, c.byPath = 0, map[string]int64{}
		c.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	case r.URL.Path == "/fail" || strings.HasPrefix(r.URL.Path, "/fail/"):
		c.add(r.URL.Path)
		http.Error(w, "failing on purpose", http.StatusInternalServerError)
	default:
		c.add(r.URL.Path)
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("ok\n"))
	}
}

func main() {
	address := ":8080"
	if port := os.Getenv("PORT"); port != "" {
		address = ":" + port
	}
	go func() {
		signals := make(chan os.Signal, 1)
		signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
		<-signals
		os.Exit(0)
	}()
	log.Printf("target listening on %s", address)
	log.Fatal(http.ListenAndServe(address, &counter{byPath: map[string]int64{}}))
}
