// Package connector runs the whole wacloud connector on one machine, in one
// process, with no Docker and no AWS account: the embedded AWS emulator
// provisioned from template.yaml, an API Gateway front for the webhook
// and management API functions (with the template's JWT authorizer), SQS event source mappings for the queue-driven functions, the
// Graph API simulator (Meta's side) and a core sink (the TucanLink core's
// side). Every function is built with the same Setup its Lambda main calls,
// with the environment the template gives it. It exists only to run and
// test locally; no function imports it.
package connector

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go/middleware"

	"github.com/tucanlink/wacloud/local/apigw"
	"github.com/tucanlink/wacloud/local/awsemu"
	"github.com/tucanlink/wacloud/local/coresink"
	"github.com/tucanlink/wacloud/local/esm"
	"github.com/tucanlink/wacloud/local/graphsim"
	"github.com/tucanlink/wacloud/local/lambdactx"
	"github.com/tucanlink/wacloud/local/schedules"
	"github.com/tucanlink/wacloud/local/stack"
	"github.com/tucanlink/wacloud/shared/logging"
)

// Default addresses.
const (
	DefaultAWSAddr   = "127.0.0.1:4566"
	DefaultAPIAddr   = "127.0.0.1:3000"
	DefaultGraphAddr = "127.0.0.1:3001"
	DefaultSinkAddr  = "127.0.0.1:3002"
)

// Options configure the connector. Empty addresses get the defaults; use
// "127.0.0.1:0" for a free port (tests).
type Options struct {
	AWSAddr string // embedded AWS; "-" keeps it on its random in-process port only
	// AWSEndpoint, when set, is an AWS implementation the user runs
	// (moto_server, LocalStack, …) used instead of an embedded one;
	// AWSAddr is then not listened on.
	AWSEndpoint string
	// AWSBackend chooses the AWS implementation started when AWSEndpoint
	// is empty (default: WACLOUD_TEST_AWS, else kumo).
	AWSBackend awsemu.Backend
	APIAddr    string // API Gateway front (the webhook)
	GraphAddr  string // Graph API simulator
	SinkAddr   string // core sink

	// Template is template.yaml's path (default: found from the working
	// directory upwards, next to go.mod).
	Template string
	// Params override template parameters (CoreUrl and GraphApiBaseUrl
	// are set to the local sink and simulator unless given here).
	Params map[string]string
	// Tenants are seeded in addition to the demo tenant.
	Tenants []Tenant
	// Pollers is the number of concurrent batches per queue (default 2).
	Pollers int
	// Env is added to every function's environment (over the template's):
	// local-run switches such as queue.EnvBackoff.
	Env map[string]string
	// Poll, when not nil, names the queue-driven functions whose pollers
	// run in this process (empty: none); the others are left to processes
	// of their own (RunFunction, wacloud-local -only). Nil: all.
	Poll []string
	// StatePath, when set, is where Run writes State once ready, for the
	// processes that run one function each.
	StatePath string
	// Functions overrides the function registry (default Functions).
	Functions map[string]Setup

	// Log receives the connector's and every function's JSON log lines
	// (default os.Stderr); LogLevel filters them.
	Log      io.Writer
	LogLevel slog.Level
	// Metrics receives the functions' EMF metric lines (default: Log).
	Metrics io.Writer
	// Recorder, when set, sees every AWS call each function makes: its
	// API options join the function's own aws.Config.
	Recorder Recorder
}

// Recorder gives the aws-sdk-go-v2 API options that record the AWS calls
// of one function (its logical id), with the stack's names to turn them
// into the ARNs they would have on AWS.
type Recorder interface {
	APIOptions(function string, names *stack.Names) []func(*middleware.Stack) error
}

// Handle is a running connector.
type Handle struct {
	AWSURL, APIURL, GraphURL, SinkURL string

	Stack    *stack.Stack
	Emulator *awsemu.Emulator
	Sink     *coresink.Sink
	Sim      *graphsim.Sim
	Tenants  []Tenant
	// Wired are the functions running; Unwired are template functions
	// with no entry in the registry (their queues keep their messages).
	Wired, Unwired []string
	Pollers        map[string]*esm.Poller // by "Function/Queue"
	Built          map[string]Built
	Log            *slog.Logger
	// Env is each wired function's environment, as its Setup read it.
	Env map[string]map[string]string

	servers []*http.Server
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	once    sync.Once
}

// startAWS fronts the AWS implementation the user runs (AWSEndpoint:
// moto_server, LocalStack…) or starts an embedded one.
func startAWS(o Options) (*awsemu.Emulator, error) {
	if o.AWSEndpoint != "" {
		return awsemu.Connect(o.AWSEndpoint)
	}
	b := o.AWSBackend
	if b == "" {
		var err error
		if b, err = awsemu.BackendFromEnv(); err != nil {
			return nil, err
		}
	}
	e, err := awsemu.StartBackend(b)
	if err != nil {
		return nil, fmt.Errorf("start the local AWS (%s): %w", b, err)
	}
	return e, nil
}

// Start brings every piece up and returns once all accept requests.
func Start(ctx context.Context, o Options) (_ *Handle, err error) {
	o = o.withDefaults()
	// The functions' own log format (Lambda key names, redaction of
	// credentials, context attributes), to one writer for everything.
	log := slog.New(functionHandler{inner: logging.NewHandler(o.Log, o.LogLevel)})
	h := &Handle{Log: log, Pollers: map[string]*esm.Poller{}, Built: map[string]Built{}, Env: map[string]map[string]string{}}
	defer func() {
		if err != nil {
			h.Close()
		}
	}()

	tmplPath := o.Template
	if tmplPath == "" {
		if tmplPath, err = findTemplate(); err != nil {
			return nil, err
		}
	}
	tmpl, err := stack.Load(tmplPath)
	if err != nil {
		return nil, err
	}

	lns := map[string]net.Listener{}
	for name, addr := range map[string]string{"api": o.APIAddr, "graph": o.GraphAddr, "sink": o.SinkAddr} {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return nil, fmt.Errorf("listen for the %s on %s: %w", name, addr, err)
		}
		lns[name] = ln
	}
	h.APIURL, h.GraphURL, h.SinkURL = "http://"+lns["api"].Addr().String(), "http://"+lns["graph"].Addr().String(), "http://"+lns["sink"].Addr().String()

	if h.Emulator, err = startAWS(o); err != nil {
		closeAll(lns)
		return nil, err
	}
	if o.AWSEndpoint == "" && o.AWSAddr != "-" {
		if err := h.Emulator.Listen(o.AWSAddr); err != nil {
			for _, l := range lns {
				l.Close()
			}
			return nil, fmt.Errorf("listen for the embedded AWS on %s: %w", o.AWSAddr, err)
		}
	}
	h.AWSURL = h.Emulator.URL
	if o.AWSEndpoint != "" {
		h.AWSURL = strings.TrimRight(o.AWSEndpoint, "/")
	}

	// The core sink is the management API's token issuer.
	params := map[string]string{"CoreUrl": h.SinkURL, "GraphApiBaseUrl": h.GraphURL, "ApiJwtIssuer": h.SinkURL}
	for k, v := range o.Params {
		params[k] = v
	}
	awsCfg := h.Emulator.Config()
	if h.Stack, err = stack.Provision(ctx, awsCfg, tmpl, stack.Options{Params: params}); err != nil {
		closeAll(lns)
		return nil, fmt.Errorf("provision %s: %w", tmplPath, err)
	}
	h.Tenants = append([]Tenant{Demo}, o.Tenants...)
	if err := seed(ctx, awsCfg, h.Stack, h.Tenants); err != nil {
		closeAll(lns)
		return nil, err
	}

	issuer, err := coresink.NewIssuer(h.Stack.Names.Params["ApiJwtIssuer"], h.Stack.Names.Params["ApiJwtAudience"],
		func() []string { return tenantList(h.Tenants) })
	if err != nil {
		closeAll(lns)
		return nil, err
	}
	h.Sink = coresink.New(coresink.Config{
		Path: h.Stack.Names.Params["CoreEventsPath"], BearerToken: CoreBearerToken, SigningSecret: CoreSigningSecret,
		Log: log.With("component", "coresink"), Issuer: issuer,
	})
	var numbers []graphsim.Number
	var templates []graphsim.Template
	wabas := map[string]bool{}
	for _, t := range h.Tenants {
		if !wabas[t.WABAID] {
			wabas[t.WABAID] = true
			templates = append(templates, graphsim.SampleTemplates(t.WABAID)...)
		}
		n := graphsim.Number{PhoneNumberID: t.PhoneNumberID, WABAID: t.WABAID, DisplayPhoneNumber: t.DisplayPhoneNumber,
			AccessToken: t.AccessToken, Throughput: t.Throughput}
		if t.OwnApp {
			n.WebhookURL, n.AppSecret = h.APIURL+"/webhook/"+t.ID, t.AppSecret
		}
		numbers = append(numbers, n)
	}
	h.Sim = graphsim.New(graphsim.Config{WebhookURL: h.APIURL + "/webhook", AppSecret: PlatformAppSecret, Numbers: numbers, BaseURL: h.GraphURL,
		Templates: templates})

	routes, pollers, err := h.buildFunctions(ctx, o, log)
	if err != nil {
		closeAll(lns)
		return nil, err
	}

	h.serve(lns["api"], withDocs(apigw.New(routes, log.With("component", "apigw")), filepath.Dir(tmplPath)))
	h.serve(lns["graph"], h.Sim)
	h.serve(lns["sink"], h.Sink)
	pctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	h.cancel = cancel
	for _, p := range pollers {
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			p.Run(pctx)
		}()
	}
	// EventBridge Scheduler's part: the emulator stores schedules but
	// fires none (local/schedules).
	for _, id := range h.Stack.Template.OfType("AWS::Scheduler::ScheduleGroup") {
		f := &schedules.Firer{Schedules: scheduler.NewFromConfig(awsCfg), Queues: sqs.NewFromConfig(awsCfg),
			Group: h.Stack.Names.Ref[id], Log: log.With("component", "scheduler")}
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			f.Run(pctx, time.Second)
		}()
	}
	if err := h.ready(ctx); err != nil {
		return nil, err
	}
	log.Info("connector ready", "api", h.APIURL, "graph", h.GraphURL, "sink", h.SinkURL, "aws", h.AWSURL,
		"wired", strings.Join(h.Wired, ","), "unwired", strings.Join(h.Unwired, ","))
	return h, nil
}

func (o Options) withDefaults() Options {
	if o.AWSAddr == "" {
		o.AWSAddr = DefaultAWSAddr
	}
	if o.APIAddr == "" {
		o.APIAddr = DefaultAPIAddr
	}
	if o.GraphAddr == "" {
		o.GraphAddr = DefaultGraphAddr
	}
	if o.SinkAddr == "" {
		o.SinkAddr = DefaultSinkAddr
	}
	if o.Pollers <= 0 {
		o.Pollers = 2
	}
	if o.Functions == nil {
		o.Functions = Functions
	}
	if o.Log == nil {
		o.Log = os.Stderr
	}
	if o.Metrics == nil {
		o.Metrics = o.Log
	}
	return o
}

// buildFunctions sets up every wired function with its template
// environment and its own AWS configuration, and returns its routes and
// queue pollers.
func (h *Handle) buildFunctions(ctx context.Context, o Options, log *slog.Logger) ([]apigw.Route, []*esm.Poller, error) {
	ids := make([]string, 0, len(h.Stack.Functions))
	for id := range h.Stack.Functions {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var routes []apigw.Route
	var pollers []*esm.Poller
	authorizers := map[string]*apigw.JWTAuthorizer{}
	for _, id := range ids {
		f := h.Stack.Functions[id]
		setup, ok := o.Functions[id]
		if !ok {
			h.Unwired = append(h.Unwired, id)
			log.Warn("function not wired into the local connector; its events wait on their queue", "function", id)
			continue
		}
		env := map[string]string{
			"AWS_REGION": awsemu.Region, "AWS_DEFAULT_REGION": awsemu.Region,
			"AWS_LAMBDA_FUNCTION_NAME": id, "AWS_LAMBDA_LOG_FORMAT": "JSON",
		}
		for k, v := range f.Env {
			env[k] = v
		}
		for k, v := range o.Env {
			env[k] = v
		}
		env["S3_USE_PATH_STYLE"] = "true"
		cfg := h.Emulator.Config()
		if o.Recorder != nil {
			cfg.APIOptions = append(cfg.APIOptions, o.Recorder.APIOptions(id, h.Stack.Names)...)
		}
		flog := logging.NewWriter(o.Log, lambdactx.ShortName(id), o.LogLevel)
		built, err := setup(ctx, func(k string) string { return env[k] }, cfg)
		if err != nil {
			return nil, nil, fmt.Errorf("set up %s: %w", id, err)
		}
		adopt(built.Value, flog, o.Metrics)
		h.Built[id] = built
		h.Env[id] = env
		h.Wired = append(h.Wired, id)
		timeout := time.Duration(f.Timeout) * time.Second
		for _, r := range f.Routes {
			if built.HTTP == nil {
				return nil, nil, fmt.Errorf("%s has HttpApi routes but its Setup is not an HTTP handler", id)
			}
			rt := apigw.Route{Method: r.Method, Path: r.Path, Function: id, Timeout: timeout, Handler: built.HTTP}
			if a := r.Authorizer; a != nil {
				if authorizers[a.Name] == nil {
					authorizers[a.Name] = &apigw.JWTAuthorizer{Issuer: a.Issuer, Audience: a.Audience}
				}
				rt.Auth = authorizers[a.Name]
			}
			routes = append(routes, rt)
		}
		for _, src := range f.Sources {
			if built.SQS == nil {
				return nil, nil, fmt.Errorf("%s has SQS events but its Setup is not an SQS handler", id)
			}
			p := &esm.Poller{
				API: sqs.NewFromConfig(h.Emulator.Config()), Function: id,
				QueueURL: src.QueueURL, QueueARN: h.Stack.Names.Att[src.QueueID+".Arn"], Region: awsemu.Region,
				BatchSize: src.BatchSize, ReportItemFailures: src.ReportItemFailures, Timeout: timeout,
				Concurrency: o.Pollers, Handler: built.SQS, Log: flog,
			}
			if o.Poll != nil && !slices.Contains(o.Poll, id) {
				continue // run by a process of its own
			}
			h.Pollers[id+"/"+src.QueueID] = p
			pollers = append(pollers, p)
		}
	}
	return routes, pollers, nil
}

func (h *Handle) serve(ln net.Listener, handler http.Handler) {
	s := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	h.servers = append(h.servers, s)
	go s.Serve(ln)
}

// ready waits until every server answers HTTP.
func (h *Handle) ready(ctx context.Context) error {
	c := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(10 * time.Second)
	for _, u := range []string{h.APIURL + "/", h.GraphURL + "/", h.SinkURL + "/stats", h.AWSURL + "/"} {
		for {
			resp, err := c.Get(u)
			if err == nil {
				resp.Body.Close()
				break
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				return fmt.Errorf("%s does not answer: %w", u, errors.Join(err, ctx.Err()))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return nil
}

// Close stops the simulator's status webhooks, the pollers (letting
// running invocations finish), the servers and the emulator. It is safe to
// call more than once.
func (h *Handle) Close() {
	h.once.Do(func() {
		// First, so that no status webhook is posted to a webhook that is
		// going away (pending ones are dropped, as a stopped Meta would).
		if h.Sim != nil {
			h.Sim.Close()
		}
		if h.cancel != nil {
			h.cancel()
		}
		done := make(chan struct{})
		go func() { h.wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			if h.Log != nil {
				h.Log.Warn("pollers still running after 30 s; stopping anyway")
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		for _, s := range h.servers {
			if err := s.Shutdown(ctx); err != nil {
				_ = s.Close()
			}
		}
		if h.Emulator != nil {
			h.Emulator.Close()
		}
	})
}

// Run starts the connector, writes a line containing "ready" to out once
// it accepts requests, and runs until ctx is done.
func Run(ctx context.Context, o Options, out io.Writer) error {
	h, err := Start(ctx, o)
	if err != nil {
		return err
	}
	defer h.Close()
	if o.StatePath != "" {
		if err := h.WriteState(o.StatePath); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "wacloud-local ready: webhook %s/webhook, graph simulator %s, core sink %s/events, AWS (%s) %s, tenants %s\n",
		h.APIURL, h.GraphURL, h.SinkURL, h.Emulator.Backend, h.AWSURL, tenantIDs(h.Tenants))
	fmt.Fprintf(out, "management API %s/v1 (token: POST %s/oauth/token, client %s; OpenAPI %s/openapi.yaml, reference page %s/docs)\n", h.APIURL, h.SinkURL, coresink.ClientID, h.APIURL, h.APIURL)
	if len(h.Unwired) > 0 {
		fmt.Fprintf(out, "not yet wired (their queues hold events): %s\n", strings.Join(h.Unwired, ", "))
	}
	<-ctx.Done()
	fmt.Fprintln(out, "wacloud-local stopping")
	return nil
}

func tenantIDs(ts []Tenant) string { return strings.Join(tenantList(ts), ",") }

func tenantList(ts []Tenant) []string {
	ids := make([]string, len(ts))
	for i, t := range ts {
		ids[i] = t.ID
	}
	return ids
}

func closeAll(lns map[string]net.Listener) {
	for _, l := range lns {
		l.Close()
	}
}

// findTemplate looks for template.yaml beside go.mod, from the working
// directory upwards.
func findTemplate() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, "template.yaml")
		if _, err := os.Stat(p); err == nil {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				return p, nil
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("template.yaml not found from the working directory up; run from the repository or pass -template")
		}
		dir = parent
	}
}
