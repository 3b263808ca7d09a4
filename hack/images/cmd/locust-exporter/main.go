// Command locust-exporter is the local stand-in for containersol/locust_exporter (whose Go
// module the module proxy refuses): it scrapes Locust's /stats/requests on every request to
// /metrics and serves the same metric names and labels in the Prometheus text format.
//
// Configuration, as the original: LOCUST_EXPORTER_URI (default http://localhost:8089),
// LOCUST_EXPORTER_WEB_LISTEN_ADDRESS (:9646), LOCUST_EXPORTER_WEB_TELEMETRY_PATH (/metrics),
// LOCUST_METRIC_NAMESPACE (locust), LOCUST_EXPORTER_TIMEOUT (5s). GET /quitquitquit exits 0.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

type requestStats struct {
	Method             string  `json:"method"`
	Name               string  `json:"name"`
	NumRequests        float64 `json:"num_requests"`
	NumFailures        float64 `json:"num_failures"`
	AvgResponseTime    float64 `json:"avg_response_time"`
	CurrentFailPerSec  float64 `json:"current_fail_per_sec"`
	MinResponseTime    float64 `json:"min_response_time"`
	MaxResponseTime    float64 `json:"max_response_time"`
	CurrentRps         float64 `json:"current_rps"`
	MedianResponseTime float64 `json:"median_response_time"`
	AvgContentLength   float64 `json:"avg_content_length"`
}

type locustStats struct {
	Stats  []requestStats `json:"stats"`
	Errors []struct {
		Method      string  `json:"method"`
		Name        string  `json:"name"`
		Error       string  `json:"error"`
		Occurrences float64 `json:"occurrences"`
	} `json:"errors"`
	FailRatio    float64 `json:"fail_ratio"`
	Percentile95 float64 `json:"current_response_time_percentile_95"`
	Percentile50 float64 `json:"current_response_time_percentile_50"`
	State        string  `json:"state"`
	UserCount    float64 `json:"user_count"`
	Workers      []struct {
		ID        string  `json:"id"`
		State     string  `json:"state"`
		UserCount float64 `json:"user_count"`
	} `json:"workers"`
}

// family is one metric name with its samples, written as one HELP/TYPE block.
type family struct {
	name, help, kind string
	samples          []sample
}

type sample struct {
	labels [][2]string
	value  float64
}

func env(name, fallback string) string {
	if value := os.Getenv(name); value != "" {
		return value
	}
	return fallback
}

type exporter struct {
	uri, namespace string
	client         *http.Client
	scrapes        atomic.Int64
}

func (e *exporter) fetch() (*locustStats, error) {
	response, err := e.client.Get(strings.TrimRight(e.uri, "/") + "/stats/requests")
	if err != nil {
		return nil, err
	}
	defer response.Body.Close()
	if response.StatusCode < 200 || response.StatusCode >= 300 {
		return nil, fmt.Errorf("HTTP status %d", response.StatusCode)
	}
	body, err := io.ReadAll(response.Body)
	if err != nil {
		return nil, err
	}
	var stats locustStats
	if err := json.Unmarshal(body, &stats); err != nil {
		return nil, err
	}
	return &stats, nil
}

func gauge(name, help string, value float64) family {
	return family{name: name, help: help, kind: "gauge", samples: []sample{{value: value}}}
}

func countByState(stats *locustStats, state string) float64 {
	count := 0.0
	for _, worker := range stats.Workers {
		if worker.State == state {
			count++
		}
	}
	return count
}

// families mirrors the original's metrics: up and total_scrapes always, the rest after a
// successful scrape; per-request gauges skip the "Total" row.
func (e *exporter) families() []family {
	scrapes := float64(e.scrapes.Add(1))
	result := []family{{name: "total_scrapes", help: "The total number of scrapes.", kind: "counter",
		samples: []sample{{value: scrapes}}}}
	stats, err := e.fetch()
	if err != nil {
		log.Printf("can't scrape Locust at %s: %v", e.uri, err)
		return append(result, gauge("up", "The current health status of the server (1 = UP, 0 = DOWN).", 0))
	}
	running := 0.0
	switch stats.State {
	case "hatching", "spawning":
		running = 1
	case "running":
		running = 2
	}
	result = append(result,
		gauge("up", "The current health status of the server (1 = UP, 0 = DOWN).", 1),
		gauge("running", "The current state of the execution (0 = STOPPED 1 = HATCHING 2 = RUNNING,).", running),
		gauge("users", "The current number of users.", stats.UserCount),
		gauge("workers_count", "The current number of workers.", float64(len(stats.Workers))),
		gauge("workers_running_count", "The current number of running workers.", countByState(stats, "running")),
		gauge("workers_hatching_count", "The current number of hatching workers.",
			countByState(stats, "hatching")+countByState(stats, "spawning")),
		gauge("workers_missing_count", "The current number of missing workers.", countByState(stats, "missing")),
		gauge("requests_fail_ratio", "", stats.FailRatio),
		gauge("requests_current_response_time_percentile_95", "", stats.Percentile95),
		gauge("requests_current_response_time_percentile_50", "", stats.Percentile50),
	)
	perRequest := []struct {
		name  string
		value func(requestStats) float64
	}{
		{"num_requests", func(r requestStats) float64 { return r.NumRequests }},
		{"num_failures", func(r requestStats) float64 { return r.NumFailures }},
		{"avg_response_time", func(r requestStats) float64 { return r.AvgResponseTime }},
		{"current_fail_per_sec", func(r requestStats) float64 { return r.CurrentFailPerSec }},
		{"min_response_time", func(r requestStats) float64 { return r.MinResponseTime }},
		{"max_response_time", func(r requestStats) float64 { return r.MaxResponseTime }},
		{"current_rps", func(r requestStats) float64 { return r.CurrentRps }},
		{"median_response_time", func(r requestStats) float64 { return r.MedianResponseTime }},
		{"avg_content_length", func(r requestStats) float64 { return r.AvgContentLength }},
	}
	for _, metric := range perRequest {
		f := family{name: "requests_" + metric.name, kind: "gauge"}
		for _, r := range stats.Stats {
			if r.Name == "Total" || r.Name == "Aggregated" || r.Name == "//stats/requests" {
				continue
			}
			f.samples = append(f.samples, sample{labels: [][2]string{{"method", r.Method}, {"name", r.Name}}, value: metric.value(r)})
		}
		result = append(result, f)
	}
	errors := family{name: "errors", help: "The current number of errors.", kind: "gauge"}
	for _, r := range stats.Errors {
		errors.samples = append(errors.samples, sample{
			labels: [][2]string{{"method", r.Method}, {"name", r.Name}, {"error", r.Error}}, value: r.Occurrences})
	}
	workers := family{name: "worker_detail", help: "The current status of a worker with user count", kind: "gauge"}
	for _, w := range stats.Workers {
		workers.samples = append(workers.samples, sample{labels: [][2]string{{"id", w.ID}, {"state", w.State}}, value: w.UserCount})
	}
	return append(result, errors, workers)
}

var labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)

func (e *exporter) write(w io.Writer) {
	families := e.families()
	sort.Slice(families, func(i, j int) bool { return families[i].name < families[j].name })
	for _, f := range families {
		if len(f.samples) == 0 {
			continue
		}
		name := e.namespace + "_" + f.name
		if f.help != "" {
			fmt.Fprintf(w, "# HELP %s %s\n", name, f.help)
		}
		fmt.Fprintf(w, "# TYPE %s %s\n", name, f.kind)
		for _, s := range f.samples {
			labels := make([]string, 0, len(s.labels))
			for _, l := range s.labels {
				labels = append(labels, fmt.Sprintf(`%s="%s"`, l[0], labelEscaper.Replace(l[1])))
			}
			rendered := ""
			if len(labels) > 0 {
				rendered = "{" + strings.Join(labels, ",") + "}"
			}
			fmt.Fprintf(w, "%s%s %s\n", name, rendered, strconv.FormatFloat(s.value, 'g', -1, 64))
		}
	}
}

func main() {
	timeout, err := time.ParseDuration(env("LOCUST_EXPORTER_TIMEOUT", "5s"))
	if err != nil {
		log.Fatalf("LOCUST_EXPORTER_TIMEOUT: %v (use a Go duration such as 5s)", err)
	}
	e := &exporter{
		uri:       env("LOCUST_EXPORTER_URI", "http://localhost:8089"),
		namespace: env("LOCUST_METRIC_NAMESPACE", "locust"),
		client:    &http.Client{Timeout: timeout},
	}
	metricsPath := env("LOCUST_EXPORTER_WEB_TELEMETRY_PATH", "/metrics")
	address := env("LOCUST_EXPORTER_WEB_LISTEN_ADDRESS", ":9646")
	http.HandleFunc(metricsPath, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		e.write(w)
	})
	http.HandleFunc("/quitquitquit", func(http.ResponseWriter, *http.Request) { os.Exit(0) })
	http.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "<html><body><h1>Locust Exporter (local stand-in)</h1><a href='%s'>Metrics</a></body></html>", metricsPath)
	})
	go func() {
		signals := make(chan os.Signal, 1)
		signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
		<-signals
		os.Exit(0)
	}()
	log.Printf("locust-exporter (stand-in) scraping %s, listening on %s%s", e.uri, address, metricsPath)
	log.Fatal(http.ListenAndServe(address, nil))
}
