package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/tucanlink/wacloud/local/awscount"
	"github.com/tucanlink/wacloud/local/connector"
	"github.com/tucanlink/wacloud/local/graphsim"
	"github.com/tucanlink/wacloud/local/rie"
	"github.com/tucanlink/wacloud/local/stack"
	"github.com/tucanlink/wacloud/shared/queue"
	"github.com/tucanlink/wacloud/shared/window"
)

// sample is one cold start of a target, as a child process reports it.
type sample struct {
	// First runs from the invocation request to its response.
	First time.Duration
	// Init and Invoke are the emulator's figures: from the bootstrap's
	// start to its first request for an event, and the first event.
	Init, Invoke time.Duration
	// Requests are the first event's requests to AWS, Graph and the core,
	// timed from the invocation request, in the order they arrived.
	Requests []request
	// Endpoint is the time during which at least one of them was being
	// answered.
	Endpoint time.Duration
	// Inits are the bootstrap's package inits (with -breakdown).
	Inits []pkgInit
}

// Own is the first response less the endpoint time: the process start,
// the init and what the function did itself.
func (s sample) Own() time.Duration { return s.First - s.Endpoint }

// count returns the requests to endpoint ("aws", "graph", "core").
func (s sample) count(endpoint string) int {
	n := 0
	for _, r := range s.Requests {
		if r.Endpoint == endpoint {
			n++
		}
	}
	return n
}

// request is one request of a first event.
type request struct {
	Endpoint, Name string
	Start, End     time.Duration
}

// pkgInit is a package's init time, from GODEBUG=inittrace=1.
type pkgInit struct {
	Pkg string
	D   time.Duration
}

// child cold-starts target name's bootstrap once, in this process, and
// prints its sample as JSON on stdout.
func child(name, bootstrap, rieBin string, verbose, breakdown bool, latency time.Duration) error {
	i := slices.IndexFunc(targets, func(t target) bool { return t.name == name })
	if i < 0 {
		return fmt.Errorf("no target %q", name)
	}
	tmpl, err := stack.Load("template.yaml")
	if err != nil {
		return err
	}
	s, err := fresh(context.Background(), tmpl, rieBin, bootstrap, targets[i], verbose, breakdown, latency)
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(s)
}

// fresh cold-starts t once against a local AWS emulator, Graph API
// simulator and core sink of its own (demo tenant seeded, no pollers).
func fresh(ctx context.Context, tmpl *stack.Template, rieBin, bootstrap string, t target, verbose, breakdown bool, latency time.Duration) (sample, error) {
	h, err := connector.Start(ctx, connector.Options{
		AWSAddr: "127.0.0.1:0", APIAddr: "127.0.0.1:0", GraphAddr: "127.0.0.1:0", SinkAddr: "127.0.0.1:0",
		Template: "template.yaml", Functions: map[string]connector.Setup{}, Log: io.Discard,
	})
	if err != nil {
		return sample{}, fmt.Errorf("start the local connector: %w", err)
	}
	defer h.Close()
	fronts, err := startFronts(h, latency)
	if err != nil {
		return sample{}, err
	}
	defer fronts.close()
	if err := warmSimulator(ctx, h); err != nil {
		return sample{}, err
	}
	return once(ctx, h, fronts, tmpl, rieBin, bootstrap, t, verbose, breakdown)
}

// warmSimulator has the Graph API simulator check one message, so that
// its one-off loading of Meta's spec (a few hundred ms, once per process)
// is not timed as the first Graph call of the function measured. The
// message is refused (no body), so nothing is sent.
func warmSimulator(ctx context.Context, h *connector.Handle) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.GraphURL+"/v23.0/"+connector.DemoPhoneNumberID+"/messages",
		strings.NewReader(`{"messaging_product":"whatsapp","to":"5511999990999","type":"text"}`))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+connector.DemoAccessToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("warm the Graph API simulator: %w", err)
	}
	resp.Body.Close()
	return nil
}

// fronts time the requests to the AWS emulator, the Graph API simulator
// and the core sink.
type fronts struct{ aws, graph, core *front }

func startFronts(h *connector.Handle, latency time.Duration) (*fronts, error) {
	aws, err := startFront(h.AWSURL, awscount.Operation, latency)
	if err != nil {
		return nil, err
	}
	graph, err := startFront(h.GraphURL, func(r *http.Request) string { return "Graph." + r.Method + " " + r.URL.Path }, latency)
	if err != nil {
		aws.close()
		return nil, err
	}
	core, err := startFront(h.SinkURL, func(r *http.Request) string { return "Core." + r.Method + " " + r.URL.Path }, latency)
	if err != nil {
		aws.close()
		graph.close()
		return nil, err
	}
	return &fronts{aws: aws, graph: graph, core: core}, nil
}

func (f *fronts) close() {
	f.aws.close()
	f.graph.close()
	f.core.close()
}

var (
	initRE      = regexp.MustCompile(`INIT REPORT\(durationMs: ([0-9.]+)\)`)
	invokeRE    = regexp.MustCompile(`INVOKE RTDONE\(status: [a-z]+, produced bytes: [0-9]+, duration: ([0-9.]+)ms\)`)
	inittraceRE = regexp.MustCompile(`(?m)^init (\S+) @([0-9.]+) ms, ([0-9.]+) ms clock`)
)

func msIn(logs []byte, re *regexp.Regexp) time.Duration {
	m := re.FindSubmatch(logs)
	if m == nil {
		return 0
	}
	f, _ := strconv.ParseFloat(string(m[1]), 64)
	return time.Duration(f * float64(time.Millisecond))
}

func initsOf(logs []byte) []pkgInit {
	// The emulator is a Go program too and traces its own inits first:
	// keep the last process's, whose clock starts again near 0.
	var out []pkgInit
	last := -1.0
	for _, m := range inittraceRE.FindAllSubmatch(logs, -1) {
		at, _ := strconv.ParseFloat(string(m[2]), 64)
		if at < last {
			out = out[:0]
		}
		last = at
		f, _ := strconv.ParseFloat(string(m[3]), 64)
		out = append(out, pkgInit{Pkg: string(m[1]), D: time.Duration(f * float64(time.Millisecond))})
	}
	return out
}

// once cold-starts t's bootstrap and checks its first response.
func once(ctx context.Context, h *connector.Handle, f *fronts, tmpl *stack.Template, rieBin, bootstrap string, t target, verbose, breakdown bool) (sample, error) {
	env, err := rie.FunctionEnv(tmpl, h.Stack, t.id, f.aws.URL)
	if err != nil {
		return sample{}, err
	}
	// The Graph API simulator and the core sink, through their fronts.
	// (Media downloads use the URL the simulator hands out, its own: they
	// count as the function's own time.)
	env["GRAPH_API_BASE_URL"] = f.graph.URL
	if _, ok := env["CORE_URL"]; ok {
		env["CORE_URL"] = f.core.URL
	}
	if breakdown {
		env["GODEBUG"] = "inittrace=1"
	}
	event, err := t.event(h)
	if err != nil {
		return sample{}, err
	}
	f.aws.take()
	f.graph.take()
	f.core.take()
	var logs bytes.Buffer
	res, err := rie.Invoke(ctx, rieBin, bootstrap, filepath.Dir(bootstrap), env, event, &logs)
	if err != nil {
		return sample{}, fmt.Errorf("%w\n%s", err, logs.String())
	}
	if problem := failed(res.Body); problem != "" {
		return sample{}, fmt.Errorf("response %s: %s\n%s", problem, res.Body, logs.String())
	}
	// A front records a request once its response is written, which
	// the function may read first: give the last one a moment.
	time.Sleep(20 * time.Millisecond)
	s := sample{First: res.FirstResponse, Init: msIn(logs.Bytes(), initRE), Invoke: msIn(logs.Bytes(), invokeRE), Inits: initsOf(logs.Bytes())}
	for name, fr := range map[string]*front{"aws": f.aws, "graph": f.graph, "core": f.core} {
		for _, x := range fr.take() {
			s.Requests = append(s.Requests, request{Endpoint: name, Name: x.name, Start: x.start.Sub(res.Sent), End: x.end.Sub(res.Sent)})
		}
	}
	slices.SortFunc(s.Requests, func(a, b request) int { return int(a.Start - b.Start) })
	s.Endpoint = busy(s.Requests)
	if verbose {
		fmt.Fprintf(os.Stderr, "%s: %.1f ms: %s\n", t.name, msOf(res.FirstResponse), bytes.TrimSpace(res.Body))
		for _, r := range s.Requests {
			fmt.Fprintf(os.Stderr, "  %s +%.1f ms %.1f ms %s\n", t.name, msOf(r.Start), msOf(r.End-r.Start), r.Name)
		}
		fmt.Fprint(os.Stderr, logs.String())
	}
	return s, nil
}

// failed says what is wrong with a response: a function error, a failed
// SQS record, or an HTTP answer of 5xx.
func failed(body []byte) string {
	var r struct {
		ErrorMessage string `json:"errorMessage"`
		Failures     []any  `json:"batchItemFailures"`
		StatusCode   int    `json:"statusCode"`
	}
	if json.Unmarshal(body, &r) != nil {
		return ""
	}
	switch {
	case r.ErrorMessage != "":
		return "is a function error"
	case len(r.Failures) > 0:
		return "has failed records"
	case r.StatusCode >= 500:
		return "is a server error"
	}
	return ""
}

// senderEvent is the text job of events/sender/text.json to a contact
// who wrote within 24 hours, so that the sender sends it (to a contact
// with no open window it would reject the job before any Graph call).
func senderEvent(h *connector.Handle) ([]byte, error) {
	const waID = "5511999990001" // the sample's "to"
	ddb := dynamodb.NewFromConfig(h.Emulator.Config())
	st := window.Store{API: ddb, Table: h.Stack.Functions["SenderFunction"].Env["STATE_TABLE"]}
	if err := st.RecordInbound(context.Background(), connector.DemoPhoneNumberID, waID, time.Now()); err != nil {
		return nil, fmt.Errorf("open the contact's window: %w", err)
	}
	h.Sim.OpenWindow(connector.DemoPhoneNumberID, waID, time.Now())
	return os.ReadFile(filepath.Join("events", "sender", "text.json"))
}

// mediaEvent is an SQS event with a media job for a document the
// simulator holds.
func mediaEvent(h *connector.Handle) ([]byte, error) {
	o, err := h.Sim.CreateMedia(graphsim.MediaSpec{PhoneNumberID: connector.DemoPhoneNumberID, MimeType: "application/pdf",
		Filename: "cold.pdf", Size: 64 << 10})
	if err != nil {
		return nil, err
	}
	job, err := json.Marshal(queue.MediaJob{TenantID: connector.DemoTenantID, PhoneNumberID: connector.DemoPhoneNumberID,
		WABAID: connector.DemoWABAID, MessageID: "wamid.COLD" + o.ID, MediaID: o.ID, Kind: "document", MimeType: o.MimeType,
		SHA256: o.SHA256Base64, Filename: o.Filename, ContactWaID: "5511999990000", OccurredAt: time.Now().UTC().Format(time.RFC3339)})
	if err != nil {
		return nil, err
	}
	return json.Marshal(events.SQSEvent{Records: []events.SQSMessage{{
		MessageId: "c01d0000-0000-4000-8000-000000000001", ReceiptHandle: "cold", Body: string(job),
		Attributes:     map[string]string{"ApproximateReceiveCount": "1", "SentTimestamp": fmt.Sprint(time.Now().UnixMilli())},
		EventSource:    "aws:sqs",
		EventSourceARN: "arn:aws:sqs:us-east-1:000000000000:wacloud-local-MediaQueue",
		AWSRegion:      "us-east-1",
	}}})
}
