package stack_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/tucanlink/wacloud/local/stack"
	"github.com/tucanlink/wacloud/shared/bridge"
	"github.com/tucanlink/wacloud/shared/event"
	"github.com/tucanlink/wacloud/shared/manage"
	"github.com/tucanlink/wacloud/shared/sender"
	"github.com/tucanlink/wacloud/shared/tokenhealth"
	"github.com/tucanlink/wacloud/shared/webhook"
)

const templatePath = "../../template.yaml"

// TestTemplateCfnLint runs cfn-lint (with SAM's translator) over the
// template: no errors and no warnings.
func TestTemplateCfnLint(t *testing.T) {
	bin, err := exec.LookPath("cfn-lint")
	if err != nil {
		t.Skip("cfn-lint is not installed (pip install cfn-lint); template not linted")
	}
	cmd := exec.Command(bin, "--format", "parseable", "template.yaml")
	cmd.Dir = "../.."
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("cfn-lint template.yaml: %v\n%s", err, out)
	}
}

// TestTemplateSAMSchema validates the template against AWS SAM's JSON
// schema (strict for AWS::Serverless::* resources), with short-form
// intrinsics in their long form as CloudFormation sees them.
func TestTemplateSAMSchema(t *testing.T) {
	f, err := os.Open("testdata/sam.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	schemaDoc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.UseRegexpEngine(lookaheadRegexp)
	if err := c.AddResource("sam.schema.json", schemaDoc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("sam.schema.json")
	if err != nil {
		t.Fatal(err)
	}

	tmpl := load(t)
	if err := validateSAM(sch, tmpl); err != nil {
		t.Fatalf("template.yaml does not match SAM's schema:\n%v", err)
	}

	// The schema is strict: a misspelt property must fail.
	bad := load(t)
	bad.Resources["WebhookFunction"].Properties["MemorySzie"] = 128
	if err := validateSAM(sch, bad); err == nil {
		t.Errorf("a function with property MemorySzie passed the schema")
	}
}

func validateSAM(sch *jsonschema.Schema, tmpl *stack.Template) error {
	resources := map[string]any{}
	for id, r := range tmpl.Resources {
		m := map[string]any{"Type": r.Type}
		if len(r.Properties) > 0 {
			m["Properties"] = r.Properties
		}
		if r.Metadata != nil {
			m["Metadata"] = r.Metadata
		}
		resources[id] = m
	}
	doc := map[string]any{"Resources": resources}
	if tmpl.Globals != nil {
		doc["Globals"] = tmpl.Globals
	}
	// Through JSON, so numbers have the types the validator expects.
	b, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return err
	}
	if err := sch.Validate(v); err != nil {
		var ve *jsonschema.ValidationError
		if errors.As(err, &ve) {
			return fmt.Errorf("%v", ve.DetailedOutput())
		}
		return err
	}
	return nil
}

// TestTemplateInvariants checks rules the product depends on and that
// neither cfn-lint nor the schema know about.
func TestTemplateInvariants(t *testing.T) {
	tmpl := load(t)
	globals, _ := tmpl.Globals["Function"].(map[string]any)

	t.Run("every queue has a dead-letter queue or is one", func(t *testing.T) {
		dlqs := map[string]bool{}
		for _, id := range tmpl.OfType("AWS::SQS::Queue") {
			rp, ok := tmpl.Resources[id].Properties["RedrivePolicy"].(map[string]any)
			if !ok {
				continue
			}
			target := getAttID(rp["deadLetterTargetArn"])
			if target == "" {
				t.Errorf("%s: deadLetterTargetArn is not !GetAtt <Queue>.Arn: %v", id, rp["deadLetterTargetArn"])
			}
			if n, _ := strconv.Atoi(fmt.Sprint(rp["maxReceiveCount"])); n < 1 {
				t.Errorf("%s: maxReceiveCount = %v", id, rp["maxReceiveCount"])
			}
			dlqs[target] = true
		}
		for _, id := range tmpl.OfType("AWS::SQS::Queue") {
			_, hasRedrive := tmpl.Resources[id].Properties["RedrivePolicy"]
			if !hasRedrive && !dlqs[id] {
				t.Errorf("%s has no RedrivePolicy and is no queue's dead-letter queue", id)
			}
		}
	})

	t.Run("every dead-letter queue has a depth alarm", func(t *testing.T) {
		alarmed := map[string]bool{}
		for _, id := range tmpl.OfType("AWS::CloudWatch::Alarm") {
			p := tmpl.Resources[id].Properties
			if p["MetricName"] != "ApproximateNumberOfMessagesVisible" {
				continue
			}
			for _, d := range list(p["Dimensions"]) {
				m, _ := d.(map[string]any)
				if m["Name"] == "QueueName" {
					alarmed[getAttID(m["Value"])] = true
				}
			}
		}
		for _, id := range tmpl.OfType("AWS::SQS::Queue") {
			rp, ok := tmpl.Resources[id].Properties["RedrivePolicy"].(map[string]any)
			if !ok {
				continue
			}
			if dlq := getAttID(rp["deadLetterTargetArn"]); !alarmed[dlq] {
				t.Errorf("dead-letter queue %s of %s has no ApproximateNumberOfMessagesVisible alarm", dlq, id)
			}
		}
	})

	for _, id := range tmpl.OfType("AWS::Serverless::Function") {
		r := tmpl.Resources[id]
		t.Run(id, func(t *testing.T) {
			if got, want := fmt.Sprint(r.Metadata["BuildMethod"]), "makefile"; got != want {
				t.Errorf("Metadata.BuildMethod = %q, want %q", got, want)
			}
			if got, want := fmt.Sprint(setting(r, globals, "Runtime")), "provided.al2023"; got != want {
				t.Errorf("Runtime = %q, want %q", got, want)
			}
			if got, want := fmt.Sprint(setting(r, globals, "Architectures")), "[arm64]"; got != want {
				t.Errorf("Architectures = %s, want %s", got, want)
			}
			if got, want := fmt.Sprint(setting(r, globals, "Handler")), "bootstrap"; got != want {
				t.Errorf("Handler = %q, want %q", got, want)
			}
			timeout, _ := strconv.Atoi(fmt.Sprint(setting(r, globals, "Timeout")))
			if timeout <= 0 {
				t.Fatalf("Timeout = %v", setting(r, globals, "Timeout"))
			}
			if lc := merged(r, globals, "LoggingConfig"); lc["LogFormat"] != "JSON" {
				t.Errorf("LoggingConfig.LogFormat = %v, want JSON", lc["LogFormat"])
			}
			if _, ok := r.Properties["Policies"]; !ok {
				t.Errorf("no Policies: every function needs its own least-privilege statements")
			}
			evs, _ := r.Properties["Events"].(map[string]any)
			for name, e := range evs {
				ev, _ := e.(map[string]any)
				if ev["Type"] != "SQS" {
					continue
				}
				props, _ := ev["Properties"].(map[string]any)
				if got := fmt.Sprint(props["FunctionResponseTypes"]); got != "[ReportBatchItemFailures]" {
					t.Errorf("event %s: FunctionResponseTypes = %s, want [ReportBatchItemFailures]", name, got)
				}
				qid := getAttID(props["Queue"])
				q, ok := tmpl.Resources[qid]
				if !ok {
					t.Errorf("event %s: queue %v not in the template", name, props["Queue"])
					continue
				}
				// AWS: the queue's visibility timeout should be at least
				// six times the function's timeout.
				vis, _ := strconv.Atoi(fmt.Sprint(q.Properties["VisibilityTimeout"]))
				if vis < 6*timeout {
					t.Errorf("event %s: %s VisibilityTimeout = %d, want ≥ 6 × Timeout %d = %d", name, qid, vis, timeout, 6*timeout)
				}
			}
		})
	}

	t.Run("a stuck or poison core event raises an alarm", func(t *testing.T) {
		// A core outage shows as the age of the oldest core event; a poison
		// event the bridge parked, as its metric and the DLQ's depth.
		want := map[string]string{
			"ApproximateAgeOfOldestMessage on CoreEventsQueue":       "",
			"ApproximateNumberOfMessagesVisible on CoreEventsDLQ":    "",
			"wacloud/" + bridge.MetricParked + " of Function=bridge": "",
		}
		for _, id := range tmpl.OfType("AWS::CloudWatch::Alarm") {
			p := tmpl.Resources[id].Properties
			for _, d := range list(p["Dimensions"]) {
				m, _ := d.(map[string]any)
				var k string
				switch {
				case p["Namespace"] == "AWS/SQS" && m["Name"] == "QueueName":
					k = fmt.Sprintf("%v on %s", p["MetricName"], getAttID(m["Value"]))
				case p["Namespace"] == "wacloud" && m["Name"] == "Function":
					k = fmt.Sprintf("wacloud/%v of Function=%v", p["MetricName"], m["Value"])
				}
				if _, ok := want[k]; ok {
					want[k] = id
				}
			}
		}
		for k, id := range want {
			if id == "" {
				t.Errorf("no alarm on %s", k)
			}
		}
	})

	t.Run("the per-message tables have throttle and conflict alarms", func(t *testing.T) {
		// Each metric an alarm's expression adds up, by "metric on table";
		// the expression must name every metric it reads.
		want := map[string]bool{}
		for _, table := range []string{"StateTable", "MessagesTable", "CampaignsTable", "SuppressionsTable"} {
			want["WriteThrottleEvents on "+table], want["ReadThrottleEvents on "+table] = false, false
		}
		for _, table := range []string{"StateTable", "MessagesTable", "CampaignsTable"} {
			want["TransactionConflict on "+table] = false
		}
		for _, id := range tmpl.OfType("AWS::CloudWatch::Alarm") {
			var expr string
			var ids []string
			for _, q := range list(tmpl.Resources[id].Properties["Metrics"]) {
				qm, _ := q.(map[string]any)
				if e, ok := qm["Expression"].(string); ok {
					expr = e
					continue
				}
				ms, _ := qm["MetricStat"].(map[string]any)
				m, _ := ms["Metric"].(map[string]any)
				if m["Namespace"] != "AWS/DynamoDB" {
					continue
				}
				ids = append(ids, fmt.Sprint(qm["Id"]))
				for _, d := range list(m["Dimensions"]) {
					dm, _ := d.(map[string]any)
					ref, _ := dm["Value"].(map[string]any)
					if dm["Name"] == "TableName" && ref != nil {
						want[fmt.Sprintf("%v on %v", m["MetricName"], ref["Ref"])] = true
					}
				}
			}
			for _, mid := range ids {
				if !regexp.MustCompile(`\b` + regexp.QuoteMeta(mid) + `\b`).MatchString(expr) {
					t.Errorf("%s: metric %s is read but not in the expression %q", id, mid, expr)
				}
			}
		}
		for k, ok := range want {
			if !ok {
				t.Errorf("no alarm adds up %s", k)
			}
		}
	})

	t.Run("every function has an errors alarm", func(t *testing.T) {
		alarmed := map[string]bool{}
		for _, id := range tmpl.OfType("AWS::CloudWatch::Alarm") {
			p := tmpl.Resources[id].Properties
			if p["Namespace"] != "AWS/Lambda" || p["MetricName"] != "Errors" {
				continue
			}
			for _, d := range list(p["Dimensions"]) {
				m, _ := d.(map[string]any)
				if ref, ok := m["Value"].(map[string]any); ok && m["Name"] == "FunctionName" {
					alarmed[fmt.Sprint(ref["Ref"])] = true
				}
			}
		}
		for _, id := range tmpl.OfType("AWS::Serverless::Function") {
			if !alarmed[id] {
				t.Errorf("%s has no alarm on its Lambda Errors", id)
			}
		}
	})

	t.Run("alarms watch metrics the functions emit", func(t *testing.T) {
		// EMF metrics (namespace wacloud) by name, with the Function
		// dimension their Recorder sets.
		emitted := map[string]string{
			bridge.MetricParked:             "bridge",
			webhook.MetricSignatureFailed:   "webhook",
			webhook.MetricTooLarge:          "webhook",
			sender.MetricAccepted:           "sender",
			sender.MetricFailed:             "sender",
			sender.MetricTokenInvalid:       "sender",
			tokenhealth.MetricTokenExpiring: "templates",
		}
		// Metrics more than one function emits, each under its own
		// Function: the token check counts the outages it finds first; the
		// inbound function pushes messages with the bridge's forwarder.
		alsoEmitted := map[string][]string{sender.MetricTokenInvalid: {"templates"}, bridge.MetricParked: {"inbound", "status"}}
		reasons := map[string]bool{}
		for _, r := range []string{event.ReasonGraphError, event.ReasonInvalidJob, event.ReasonTenantMismatch, event.ReasonTenantUnavailable,
			event.ReasonWindowClosed, event.ReasonMediaUnavailable, event.ReasonOutcomeUnknown, event.ReasonRetriesExhausted} {
			reasons[r] = true
		}
		check := func(alarm string, m map[string]any) {
			if m["Namespace"] != "wacloud" {
				return
			}
			name := fmt.Sprint(m["MetricName"])
			fn, ok := emitted[name]
			if !ok {
				t.Errorf("%s watches wacloud/%s, which no function emits", alarm, name)
				return
			}
			for _, d := range list(m["Dimensions"]) {
				dm, _ := d.(map[string]any)
				switch dm["Name"] {
				case "Function":
					if dm["Value"] != fn && !slices.Contains(alsoEmitted[name], fmt.Sprint(dm["Value"])) {
						t.Errorf("%s: %s has Function=%v, want %s", alarm, name, dm["Value"], fn)
					}
				case "Reason":
					if !reasons[fmt.Sprint(dm["Value"])] {
						t.Errorf("%s: %s Reason=%v is not an outbound failure reason", alarm, name, dm["Value"])
					}
				}
			}
		}
		for _, id := range tmpl.OfType("AWS::CloudWatch::Alarm") {
			p := tmpl.Resources[id].Properties
			check(id, p)
			for _, q := range list(p["Metrics"]) {
				qm, _ := q.(map[string]any)
				ms, _ := qm["MetricStat"].(map[string]any)
				m, _ := ms["Metric"].(map[string]any)
				check(id, m)
			}
		}
	})

	t.Run("the API function serves exactly the routes the template declares", func(t *testing.T) {
		declared := map[string]bool{}
		evs, _ := tmpl.Resources["ApiFunction"].Properties["Events"].(map[string]any)
		for _, e := range evs {
			ev, _ := e.(map[string]any)
			if ev["Type"] != "HttpApi" {
				continue
			}
			p, _ := ev["Properties"].(map[string]any)
			declared[fmt.Sprint(p["Method"])+" "+fmt.Sprint(p["Path"])] = true
		}
		served := map[string]bool{}
		for _, rt := range (&manage.Handler{}).Routes() {
			served[rt.Key()] = true
			if !declared[rt.Key()] {
				t.Errorf("ApiFunction serves %s, but the template declares no such event: API Gateway would never route it", rt.Key())
			}
		}
		for k := range declared {
			if !served[k] {
				t.Errorf("template.yaml routes %s to ApiFunction, which has no such route (it would answer 404)", k)
			}
		}
	})

	t.Run("no broad policy templates", func(t *testing.T) {
		broad := []string{"S3CrudPolicy", "S3FullAccessPolicy", "DynamoDBCrudPolicy", "S3WritePolicy", "AWSSecretsManagerGetSecretValuePolicy"}
		for _, id := range tmpl.OfType("AWS::Serverless::Function") {
			for _, p := range list(tmpl.Resources[id].Properties["Policies"]) {
				m, _ := p.(map[string]any)
				for _, b := range broad {
					if _, ok := m[b]; ok {
						t.Errorf("%s uses %s; grant the actions it needs on its own resources instead", id, b)
					}
				}
				for _, st := range list(m["Statement"]) {
					s, _ := st.(map[string]any)
					for _, a := range append(list(s["Action"]), s["Action"]) {
						if a, ok := a.(string); ok && (a == "*" || strings.HasSuffix(a, ":*")) {
							t.Errorf("%s grants %s", id, a)
						}
					}
					if s["Resource"] == "*" {
						t.Errorf("%s grants %v on every resource", id, s["Action"])
					}
				}
			}
		}
	})
}

func load(t *testing.T) *stack.Template {
	t.Helper()
	tmpl, err := stack.Load(templatePath)
	if err != nil {
		t.Fatal(err)
	}
	return tmpl
}

// setting returns a function property, falling back to Globals.Function.
func setting(r stack.Resource, globals map[string]any, key string) any {
	if v, ok := r.Properties[key]; ok {
		return v
	}
	return globals[key]
}

// merged returns a map property with Globals.Function's map underneath,
// as SAM merges them.
func merged(r stack.Resource, globals map[string]any, key string) map[string]any {
	out := map[string]any{}
	g, _ := globals[key].(map[string]any)
	for k, v := range g {
		out[k] = v
	}
	own, _ := r.Properties[key].(map[string]any)
	for k, v := range own {
		out[k] = v
	}
	return out
}

// lookaheadRegexp compiles JSON schema patterns with Go's regexp, plus the
// one form of negative lookahead SAM's schema uses, "^(?!PREFIX)REST$",
// which Go's RE2 syntax lacks.
func lookaheadRegexp(pattern string) (jsonschema.Regexp, error) {
	if rest, ok := strings.CutPrefix(pattern, "^(?!"); ok {
		prefix, tail, found := strings.Cut(rest, ")")
		if !found || strings.ContainsAny(prefix, `\.*+?[](){}|^$`) {
			return nil, fmt.Errorf("unsupported lookahead in %q", pattern)
		}
		re, err := regexp.Compile("^" + tail)
		if err != nil {
			return nil, err
		}
		return notPrefixed{prefix: prefix, re: re, src: pattern}, nil
	}
	return regexp.Compile(pattern)
}

type notPrefixed struct {
	prefix string
	re     *regexp.Regexp
	src    string
}

func (n notPrefixed) MatchString(s string) bool {
	return !strings.HasPrefix(s, n.prefix) && n.re.MatchString(s)
}

func (n notPrefixed) String() string { return n.src }

// getAttID returns X of {"Fn::GetAtt": [X, ...]}, or "".
func getAttID(v any) string {
	m, _ := v.(map[string]any)
	parts, _ := m["Fn::GetAtt"].([]any)
	if len(parts) == 0 {
		return ""
	}
	return fmt.Sprint(parts[0])
}

func list(v any) []any {
	l, _ := v.([]any)
	return l
}
