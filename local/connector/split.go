package connector

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/tucanlink/wacloud/local/awsemu"
	"github.com/tucanlink/wacloud/local/esm"
	"github.com/tucanlink/wacloud/shared/logging"
)

// State is what a process running one function needs from the connector
// that runs everything else (the AWS emulator, the API front, the Graph
// simulator and the core sink): where they listen, and each queue-driven
// function's environment and event sources. Handle.WriteState writes it
// as JSON; RunFunction reads it.
type State struct {
	AWSURL    string                   `json:"aws_url"`
	APIURL    string                   `json:"api_url"`
	GraphURL  string                   `json:"graph_url"`
	SinkURL   string                   `json:"sink_url"`
	Functions map[string]FunctionState `json:"functions"`
}

// FunctionState is one queue-driven function as the template declares it.
type FunctionState struct {
	Env      map[string]string `json:"env"`
	TimeoutS int               `json:"timeout_s"`
	Sources  []SourceState     `json:"sources"`
}

// SourceState is one SQS event source of a function.
type SourceState struct {
	QueueID            string `json:"queue_id"`
	QueueURL           string `json:"queue_url"`
	QueueARN           string `json:"queue_arn"`
	BatchSize          int    `json:"batch_size"`
	ReportItemFailures bool   `json:"report_item_failures"`
}

// State describes the running connector's queue-driven functions.
func (h *Handle) State() State {
	st := State{AWSURL: h.AWSURL, APIURL: h.APIURL, GraphURL: h.GraphURL, SinkURL: h.SinkURL, Functions: map[string]FunctionState{}}
	for id, f := range h.Stack.Functions {
		env, ok := h.Env[id]
		if !ok || len(f.Sources) == 0 {
			continue
		}
		fs := FunctionState{Env: env, TimeoutS: f.Timeout}
		for _, src := range f.Sources {
			fs.Sources = append(fs.Sources, SourceState{QueueID: src.QueueID, QueueURL: src.QueueURL,
				QueueARN: h.Stack.Names.Att[src.QueueID+".Arn"], BatchSize: src.BatchSize, ReportItemFailures: src.ReportItemFailures})
		}
		st.Functions[id] = fs
	}
	return st
}

// WriteState writes State to path (atomically: a function process never
// reads half a file).
func (h *Handle) WriteState(path string) error {
	b, err := json.MarshalIndent(h.State(), "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	return os.Rename(tmp, path)
}

// ReadState reads a state file WriteState wrote.
func ReadState(path string) (State, error) {
	var st State
	b, err := os.ReadFile(path)
	if err != nil {
		return st, fmt.Errorf("read state: %w", err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("read state %s: %w", path, err)
	}
	return st, nil
}

// FunctionID resolves a function named by its logical id or short name
// ("sender" → SenderFunction) among the state's functions.
func (st State) FunctionID(name string) (string, error) {
	ids := make([]string, 0, len(st.Functions))
	for id := range st.Functions {
		ids = append(ids, id)
		if strings.EqualFold(id, name) || strings.EqualFold(id, name+"Function") {
			return id, nil
		}
	}
	sort.Strings(ids)
	return "", fmt.Errorf("no queue-driven function %q; want one of %s", name, strings.Join(ids, ", "))
}

// FunctionOptions configure RunFunction.
type FunctionOptions struct {
	Pollers  int // concurrent batches per queue (default 2)
	Log      io.Writer
	LogLevel slog.Level
	// Env is added to the function's environment (queue.EnvBackoff, …).
	Env map[string]string
	// OnTimeout is called when an invocation outran the function's
	// timeout; the wacloud-local process exits there, as Lambda discards
	// the execution environment of a timed-out invocation.
	OnTimeout func()
	// Adjust, when set, may change the handler Setup built (tests).
	Adjust func(handler any)
}

// RunFunction runs one queue-driven function of a connector started
// elsewhere (st): its Setup with its template environment, against the
// same AWS emulator, and its event source mappings, until ctx ends. This
// process can be killed and started again while the emulator keeps its
// state, as a Lambda execution environment can die under a queue.
func RunFunction(ctx context.Context, st State, id string, o FunctionOptions) error {
	fs, ok := st.Functions[id]
	if !ok {
		return fmt.Errorf("function %s is not in the state file", id)
	}
	setup, ok := Functions[id]
	if !ok {
		return fmt.Errorf("function %s is not wired into the local connector", id)
	}
	if o.Log == nil {
		o.Log = os.Stderr
	}
	env := map[string]string{}
	for k, v := range fs.Env {
		env[k] = v
	}
	for k, v := range o.Env {
		env[k] = v
	}
	cfg := awsemu.EndpointConfig(st.AWSURL)
	built, err := setup(ctx, func(k string) string { return env[k] }, cfg)
	if err != nil {
		return fmt.Errorf("set up %s: %w", id, err)
	}
	if built.SQS == nil {
		return fmt.Errorf("%s is not an SQS function", id)
	}
	flog := logging.NewWriter(o.Log, id, o.LogLevel)
	adopt(built.Value, flog, o.Log)
	if o.Adjust != nil {
		o.Adjust(built.Value)
	}
	timeout := time.Duration(fs.TimeoutS) * time.Second
	var wg sync.WaitGroup
	for _, src := range fs.Sources {
		p := &esm.Poller{
			API: sqs.NewFromConfig(cfg), Function: id,
			QueueURL: src.QueueURL, QueueARN: src.QueueARN, Region: awsemu.Region,
			BatchSize: src.BatchSize, ReportItemFailures: src.ReportItemFailures, Timeout: timeout,
			Concurrency: o.Pollers, Handler: built.SQS, Log: flog, OnTimeout: o.OnTimeout,
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.Run(ctx)
		}()
	}
	flog.Info("function running in its own process", "aws", st.AWSURL, "pid", os.Getpid())
	wg.Wait()
	return nil
}
