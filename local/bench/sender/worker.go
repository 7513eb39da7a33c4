package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/tucanlink/wacloud/local/awsemu"
	"github.com/tucanlink/wacloud/local/bench/fifoqueue"
	"github.com/tucanlink/wacloud/shared/sender"
	"github.com/tucanlink/wacloud/shared/throttle"
)

// workerReport is what a sender process prints last: its AWS calls by
// operation and its limiter's counters.
type workerReport struct {
	Calls   map[string]int `json:"calls"`
	Limiter throttle.Stats `json:"limiter"`
}

// runWorker is the -role worker process: one sender instance with the
// function's environment; it prints its report last.
func runWorker(awsURL, dispatchURL string) error {
	rep, err := runInstance(context.Background(), os.Getenv, awsURL, dispatchURL)
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(rep)
}

// runInstance is one sender instance, set up as the Lambda function is
// (sender.Setup with getenv as its environment, its own caches, limiter
// state and connections), fed batches by the dispatcher until it says
// done.
func runInstance(ctx context.Context, getenv func(string) string, awsURL, dispatchURL string) (workerReport, error) {
	calls := &callCounter{}
	h, err := sender.Setup(ctx, getenv, instanceConfig(awsConfig(awsURL), calls))
	if err != nil {
		return workerReport{}, err
	}
	quiet := slog.New(slog.NewJSONHandler(io.Discard, nil))
	h.Log, h.Consumer.Log = quiet, quiet
	h.Metrics.Out = io.Discard
	d := &fifoqueue.Client{URL: dispatchURL, HTTP: &http.Client{Timeout: time.Minute}}
	vis := &fifoqueue.Visibility{SendAPI: sqs.NewFromConfig(awsConfig(awsURL)), D: d}
	h.Consumer.API, h.Visibilities = vis, vis

	for {
		r, err := d.Receive(ctx)
		if err != nil {
			return workerReport{}, err
		}
		if r.Done {
			break
		}
		if len(r.Messages) == 0 {
			time.Sleep(2 * time.Millisecond)
			continue
		}
		ev := events.SQSEvent{}
		receipts := make([]string, 0, len(r.Messages))
		for _, m := range r.Messages {
			ev.Records = append(ev.Records, events.SQSMessage{MessageId: m.ID, ReceiptHandle: m.Receipt, Body: m.Body,
				Attributes: map[string]string{"MessageGroupId": m.Group, "MessageDeduplicationId": m.ID,
					"ApproximateReceiveCount": strconv.Itoa(m.Receives)}})
			receipts = append(receipts, m.Receipt)
		}
		resp, _ := h.Handle(ctx, ev)
		failed := make([]string, 0, len(resp.BatchItemFailures))
		for _, f := range resp.BatchItemFailures {
			failed = append(failed, f.ItemIdentifier)
		}
		if err := d.Complete(ctx, receipts, failed); err != nil {
			return workerReport{}, err
		}
	}

	rep := workerReport{Calls: calls.snapshot()}
	if l, ok := h.Numbers.(*throttle.Limiter); ok {
		rep.Limiter = l.Stats(number)
	}
	return rep, nil
}

func awsConfig(url string) aws.Config {
	return aws.Config{
		Region:       awsemu.Region,
		Credentials:  credentials.NewStaticCredentialsProvider("local", "local", ""),
		BaseEndpoint: aws.String(url),
		HTTPClient:   awshttp.NewBuildableClient(),
	}
}

// instanceConfig gives the instance an HTTP connection pool with room for
// a batch's concurrent calls, as config.LoadDefaultConfig's client has.
// (A pool of two idle connections made every call dial and close one.)
func instanceConfig(cfg aws.Config, calls *callCounter) aws.Config {
	c := awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		t.MaxIdleConnsPerHost = 32
	})
	cfg.HTTPClient = &http.Client{Transport: countingTransport{next: c, calls: calls}}
	return cfg
}

// callCounter counts AWS calls by operation (X-Amz-Target).
type callCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *callCounter) add(op string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[op]++
}

func (c *callCounter) snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.n))
	for op, n := range c.n {
		out[op] = n
	}
	return out
}

// perMessage lists the operations of calls, most frequent first, per
// message sent.
func perMessage(calls map[string]int, messages int) string {
	type opCount struct {
		op string
		n  int
	}
	var ops []opCount
	total := 0
	for op, n := range calls {
		ops = append(ops, opCount{op, n})
		total += n
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].n > ops[j].n })
	per := func(n int) float64 { return float64(n) / float64(max(messages, 1)) }
	var b strings.Builder
	fmt.Fprintf(&b, "%.2f AWS calls per message:", per(total))
	for _, o := range ops {
		fmt.Fprintf(&b, " %s %.2f", o.op, per(o.n))
	}
	return b.String()
}

type countingTransport struct {
	next interface {
		Do(*http.Request) (*http.Response, error)
	}
	calls *callCounter
}

func (t countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	op := r.Header.Get("X-Amz-Target")
	if i := strings.LastIndexByte(op, '.'); i >= 0 {
		op = op[i+1:]
	}
	if op == "" {
		op = r.Method + " " + r.URL.Path
	}
	t.calls.add(op)
	return t.next.Do(r)
}
