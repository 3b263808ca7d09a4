// Command otlp-receiver is a minimal OpenTelemetry collector for tests: it accepts OTLP over
// HTTP (POST /v1/traces, /v1/metrics, /v1/logs; protobuf or JSON, optionally gzipped) on
// :4318 and over gRPC on :4317, discards the data, and reports on GET /__count (HTTP port) how
// many requests and items (spans, metrics, log records) arrived per signal and per
// service.name resource attribute.
package main

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"

	logsv1 "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	metricsv1 "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	tracev1 "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	resourcev1 "go.opentelemetry.io/proto/otlp/resource/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
)

const (
	traces  = "traces"
	metrics = "metrics"
	logs    = "logs"
)

type signalCount struct {
	Requests int64            `json:"requests"`
	Items    int64            `json:"items"`
	Services map[string]int64 `json:"services"`
}

type counts struct {
	mu      sync.Mutex
	signals map[string]*signalCount
}

func newCounts() *counts {
	c := &counts{signals: map[string]*signalCount{}}
	for _, s := range []string{traces, metrics, logs} {
		c.signals[s] = &signalCount{Services: map[string]int64{}}
	}
	return c
}

// add records one export request: items per service.name ("" when the resource has none).
func (c *counts) add(signal string, itemsByService map[string]int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.signals[signal]
	s.Requests++
	for service, items := range itemsByService {
		s.Items += items
		s.Services[service] += items
	}
}

func (c *counts) snapshot() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	body, _ := json.Marshal(c.signals)
	return body
}

func serviceName(resource *resourcev1.Resource) string {
	for _, attribute := range resource.GetAttributes() {
		if attribute.GetKey() == "service.name" {
			return attribute.GetValue().GetStringValue()
		}
	}
	return ""
}

func traceItems(request *tracev1.ExportTraceServiceRequest) map[string]int64 {
	items := map[string]int64{}
	for _, resourceSpans := range request.GetResourceSpans() {
		for _, scope := range resourceSpans.GetScopeSpans() {
			items[serviceName(resourceSpans.GetResource())] += int64(len(scope.GetSpans()))
		}
	}
	return items
}

func metricItems(request *metricsv1.ExportMetricsServiceRequest) map[string]int64 {
	items := map[string]int64{}
	for _, resourceMetrics := range request.GetResourceMetrics() {
		for _, scope := range resourceMetrics.GetScopeMetrics() {
			items[serviceName(resourceMetrics.GetResource())] += int64(len(scope.GetMetrics()))
		}
	}
	return items
}

func logItems(request *logsv1.ExportLogsServiceRequest) map[string]int64 {
	items := map[string]int64{}
	for _, resourceLogs := range request.GetResourceLogs() {
		for _, scope := range resourceLogs.GetScopeLogs() {
			items[serviceName(resourceLogs.GetResource())] += int64(len(scope.GetLogRecords()))
		}
	}
	return items
}

// jsonResource is what the receiver reads of OTLP/JSON: its IDs are hex, which protojson
// refuses, and only the service name and the number of items matter here.
type jsonResource struct {
	Resource struct {
		Attributes []struct {
			Key   string `json:"key"`
			Value struct {
				StringValue string `json:"stringValue"`
			} `json:"value"`
		} `json:"attributes"`
	} `json:"resource"`
	ScopeSpans []struct {
		Spans []json.RawMessage `json:"spans"`
	} `json:"scopeSpans"`
	ScopeMetrics []struct {
		Metrics []json.RawMessage `json:"metrics"`
	} `json:"scopeMetrics"`
	ScopeLogs []struct {
		LogRecords []json.RawMessage `json:"logRecords"`
	} `json:"scopeLogs"`
}

func jsonItems(body []byte) (map[string]int64, error) {
	var request struct {
		ResourceSpans   []jsonResource `json:"resourceSpans"`
		ResourceMetrics []jsonResource `json:"resourceMetrics"`
		ResourceLogs    []jsonResource `json:"resourceLogs"`
	}
	if err := json.Unmarshal(body, &request); err != nil {
		return nil, err
	}
	items := map[string]int64{}
	resources := append(append(request.ResourceSpans, request.ResourceMetrics...), request.ResourceLogs...)
	for _, resource := range resources {
		service := ""
		for _, attribute := range resource.Resource.Attributes {
			if attribute.Key == "service.name" {
				service = attribute.Value.StringValue
			}
		}
		for _, scope := range resource.ScopeSpans {
			items[service] += int64(len(scope.Spans))
		}
		for _, scope := range resource.ScopeMetrics {
			items[service] += int64(len(scope.Metrics))
		}
		for _, scope := range resource.ScopeLogs {
			items[service] += int64(len(scope.LogRecords))
		}
	}
	return items, nil
}

func protoItems(signal string, body []byte) (map[string]int64, error) {
	switch signal {
	case traces:
		request := &tracev1.ExportTraceServiceRequest{}
		if err := proto.Unmarshal(body, request); err != nil {
			return nil, err
		}
		return traceItems(request), nil
	case metrics:
		request := &metricsv1.ExportMetricsServiceRequest{}
		if err := proto.Unmarshal(body, request); err != nil {
			return nil, err
		}
		return metricItems(request), nil
	default:
		request := &logsv1.ExportLogsServiceRequest{}
		if err := proto.Unmarshal(body, request); err != nil {
			return nil, err
		}
		return logItems(request), nil
	}
}

func (c *counts) httpHandler(signal string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "POST an OTLP export request", http.StatusMethodNotAllowed)
			return
		}
		var reader io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			gz, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			reader = gz
		}
		body, err := io.ReadAll(reader)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		isJSON := strings.HasPrefix(r.Header.Get("Content-Type"), "application/json")
		var items map[string]int64
		if isJSON {
			items, err = jsonItems(body)
		} else {
			items, err = protoItems(signal, body)
		}
		if err != nil {
			http.Error(w, fmt.Sprintf("not an OTLP %s export request: %v", signal, err), http.StatusBadRequest)
			return
		}
		c.add(signal, items)
		if isJSON {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte("{}"))
			return
		}
		// An empty Export*ServiceResponse is zero bytes in protobuf.
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	}
}

type traceServer struct {
	tracev1.UnimplementedTraceServiceServer
	counts *counts
}

func (s traceServer) Export(_ context.Context, r *tracev1.ExportTraceServiceRequest) (*tracev1.ExportTraceServiceResponse, error) {
	s.counts.add(traces, traceItems(r))
	return &tracev1.ExportTraceServiceResponse{}, nil
}

type metricsServer struct {
	metricsv1.UnimplementedMetricsServiceServer
	counts *counts
}

func (s metricsServer) Export(_ context.Context, r *metricsv1.ExportMetricsServiceRequest) (*metricsv1.ExportMetricsServiceResponse, error) {
	s.counts.add(metrics, metricItems(r))
	return &metricsv1.ExportMetricsServiceResponse{}, nil
}

type logsServer struct {
	logsv1.UnimplementedLogsServiceServer
	counts *counts
}

func (s logsServer) Export(_ context.Context, r *logsv1.ExportLogsServiceRequest) (*logsv1.ExportLogsServiceResponse, error) {
	s.counts.add(logs, logItems(r))
	return &logsv1.ExportLogsServiceResponse{}, nil
}

func env(name, fallback string) string {
	if value := os.Getenv(name); value != "" {
		return value
	}
	return fallback
}

func main() {
	c := newCounts()
	grpcAddress := env("OTLP_GRPC_ADDRESS", ":4317")
	httpAddress := env("OTLP_HTTP_ADDRESS", ":4318")

	listener, err := net.Listen("tcp", grpcAddress)
	if err != nil {
		log.Fatalf("OTLP/gRPC on %s: %v", grpcAddress, err)
	}
	server := grpc.NewServer()
	tracev1.RegisterTraceServiceServer(server, traceServer{counts: c})
	metricsv1.RegisterMetricsServiceServer(server, metricsServer{counts: c})
	logsv1.RegisterLogsServiceServer(server, logsServer{counts: c})
	go func() { log.Fatal(server.Serve(listener)) }()

	mux := http.NewServeMux()
	mux.Handle("/v1/traces", c.httpHandler(traces))
	mux.Handle("/v1/metrics", c.httpHandler(metrics))
	mux.Handle("/v1/logs", c.httpHandler(logs))
	mux.HandleFunc("/__count", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(c.snapshot())
	})
	go func() {
		signals := make(chan os.Signal, 1)
		signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
		<-signals
		os.Exit(0)
	}()
	log.Printf("otlp-receiver: OTLP/gRPC on %s, OTLP/HTTP and /__count on %s", grpcAddress, httpAddress)
	log.Fatal(http.ListenAndServe(httpAddress, mux))
}
