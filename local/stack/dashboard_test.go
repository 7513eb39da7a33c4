package stack_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/tucanlink/wacloud/local/stack"
	"github.com/tucanlink/wacloud/shared/bridge"
)

// TestDashboard renders the template's dashboard body and checks that it
// is JSON with widgets, that every wacloud metric it shows is one the code
// emits, with the dimensions and Function the code gives it, that every
// AWS metric and log group it shows is this template's, and that every
// function and queue is on it.
func TestDashboard(t *testing.T) {
	tmpl := load(t)
	emitted, literals := loadEmitted(t)
	ids := tmpl.OfType("AWS::CloudWatch::Dashboard")
	if len(ids) != 1 {
		t.Fatalf("dashboards in the template: %v, want one", ids)
	}
	body, err := dashboardBody(tmpl, tmpl.Resources[ids[0]])
	if err != nil {
		t.Fatal(err)
	}
	d, err := parseDashboard(body)
	if err != nil {
		t.Fatalf("%v\n%s", err, body)
	}
	for _, p := range checkDashboardRefs(tmpl, d, emitted, literals) {
		t.Error(p)
	}
	for _, p := range checkDashboardCoverage(tmpl, d) {
		t.Error(p)
	}
}

// TestDashboardCheckFindsProblems: the checks report a dashboard that
// refers to what the code does not emit or the template does not hold.
func TestDashboardCheckFindsProblems(t *testing.T) {
	tmpl := load(t)
	emitted, literals := loadEmitted(t)
	widget := func(metrics ...string) string {
		return `{"widgets":[{"type":"metric","properties":{"metrics":[` + strings.Join(metrics, ",") + `]}}]}`
	}
	tests := []struct {
		name, body, want string
	}{
		{"unknown wacloud metric", widget(`["wacloud","WebhookLatencyy","Function","webhook"]`), "no code emits"},
		{"wrong Function", widget(`["wacloud","WebhookLatency","Function","sender"]`), "Function=sender"},
		{"no Function", widget(`["wacloud","WebhookLatency"]`), "without the Function dimension"},
		{"missing dimension", widget(`["wacloud","OutboundThrottledByMeta","Function","sender"]`), "dimensions [Function]"},
		{"extra dimension", widget(`["wacloud","OutboundAccepted","Function","sender","Tenant","acme"]`), "dimensions [Function Tenant]"},
		{"unknown metric in a search", widget(`[{"expression":"SEARCH('{wacloud,Function,Tenant} MetricName=\"MessagesOpened\"', 'Sum', 300)","id":"e"}]`), "no code emits"},
		{"search with the wrong schema", widget(`[{"expression":"SEARCH('{wacloud,Function} MetricName=\"GraphErrors\"', 'Sum', 60)","id":"e"}]`), "dimensions [Function]"},
		{"search without a schema", widget(`[{"expression":"SEARCH('MetricName=\"GraphErrors\"', 'Sum', 60)","id":"e"}]`), "no {namespace,dimensions} schema"},
		{"unknown queue", widget(`["AWS/SQS","ApproximateNumberOfMessagesVisible","QueueName","getatt:NoSuchQueue.QueueName"]`), "not a queue of the template"},
		{"queue by literal name", widget(`["AWS/SQS","ApproximateNumberOfMessagesVisible","QueueName","wacloud-inbound.fifo"]`), "not a queue of the template"},
		{"unknown function", widget(`["AWS/Lambda","Errors","FunctionName","ref:NoSuchFunction"]`), "not a function of the template"},
		{"a queue as a function", widget(`["AWS/Lambda","Errors","FunctionName","ref:InboundQueue"]`), "not a function of the template"},
		{"unknown API", widget(`["AWS/ApiGateway","5xx","ApiId","abc123"]`), "not an HTTP API of the template"},
		{"shorthand metric", widget(`["wacloud","WebhookLatency","Function","webhook"]`, `[".","WebhookUnits",".","."]`), "in full"},
		{"other namespace", widget(`["AWS/S3","BucketSizeBytes","BucketName","ref:DataBucket"]`), "no check for namespace"},
		{"unknown table", widget(`["AWS/DynamoDB","WriteThrottleEvents","TableName","ref:NoSuchTable"]`), "not a table of the template"},
		{"a queue as a table", widget(`["AWS/DynamoDB","WriteThrottleEvents","TableName","ref:InboundQueue"]`), "not a table of the template"},
		{"a metric with an operation dimension", widget(`["AWS/DynamoDB","ThrottledRequests","TableName","ref:StateTable"]`), "not a table metric"},
		{"unknown log group", `{"widgets":[{"type":"log","properties":{"query":"SOURCE '/aws/lambda/other' | fields @message"}}]}`, "not a log group of the template"},
		{"log message the code never writes", `{"widgets":[{"type":"log","properties":{"query":"SOURCE 'ref:SenderLogGroup' | filter message = \"message sent to Meta\""}}]}`, "no string"},
		{"log field that is no metric", `{"widgets":[{"type":"log","properties":{"query":"SOURCE 'ref:StatusLogGroup' | stats sum(MessagesOpened) by Tenant"}}]}`, "MessagesOpened"},
		{"no widgets", `{"widgets":[]}`, "no widgets"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := parseDashboard(tt.body)
			var got []string
			if err != nil {
				got = []string{err.Error()}
			} else {
				got = checkDashboardRefs(tmpl, d, emitted, literals)
			}
			if !slices.ContainsFunc(got, func(p string) bool { return strings.Contains(p, tt.want) }) {
				t.Errorf("problems %q, want one saying %q", got, tt.want)
			}
		})
	}

	t.Run("a queue left off", func(t *testing.T) {
		body, err := dashboardBody(tmpl, tmpl.Resources["Dashboard"])
		if err != nil {
			t.Fatal(err)
		}
		d, err := parseDashboard(strings.ReplaceAll(body, "getatt:StatusDLQ.QueueName", "getatt:MediaDLQ.QueueName"))
		if err != nil {
			t.Fatal(err)
		}
		got := checkDashboardCoverage(tmpl, d)
		if !slices.ContainsFunc(got, func(p string) bool { return strings.Contains(p, "StatusDLQ") }) {
			t.Errorf("problems %q, want one naming StatusDLQ", got)
		}
	})
}

func loadEmitted(t *testing.T) (map[string]*emittedMetric, map[string]bool) {
	t.Helper()
	emitted, literals, err := emittedMetrics("../../shared", "../../functions")
	if err != nil {
		t.Fatal(err)
	}
	// bridge.ForwardEvents counts pushes on the recorder of the function
	// that forwards: the inbound and the status function too.
	for _, name := range []string{bridge.MetricPushed, bridge.MetricFailed, bridge.MetricParked} {
		if m := emitted[name]; m != nil {
			m.functions["inbound"], m.functions["status"] = true, true
		}
	}
	// The catalogue itself must see what the code is known to write.
	for name, fn := range map[string]string{"WebhookLatency": "webhook", "GraphErrors": "sender", "MessagesDelivered": "status", "TemplateSyncs": "templates"} {
		if m := emitted[name]; m == nil || !m.functions[fn] {
			t.Fatalf("the metric catalogue misses %s of %s: %+v", name, fn, m)
		}
	}
	return emitted, literals
}

// dashboardBody renders the DashboardBody !Sub with placeholders:
// ${Resource} is "ref:Resource", ${Resource.Attr} "getatt:Resource.Attr",
// a parameter its default, a pseudo parameter a fixed value.
func dashboardBody(tmpl *stack.Template, r stack.Resource) (string, error) {
	sub, ok := r.Properties["DashboardBody"].(map[string]any)
	s, isString := sub["Fn::Sub"].(string)
	if !ok || !isString {
		return "", fmt.Errorf("DashboardBody is not a !Sub of one string: %T", r.Properties["DashboardBody"])
	}
	pseudo := map[string]string{"AWS::Region": "us-east-1", "AWS::StackName": "wacloud-test", "AWS::AccountId": "123456789012", "AWS::Partition": "aws"}
	var bad []string
	out := regexp.MustCompile(`\$\{([^}]*)\}`).ReplaceAllStringFunc(s, func(m string) string {
		v := m[2 : len(m)-1]
		if lit, ok := strings.CutPrefix(v, "!"); ok {
			return "${" + lit + "}"
		}
		if p, ok := pseudo[v]; ok {
			return p
		}
		if p, ok := tmpl.Parameters[v]; ok {
			return fmt.Sprint(p["Default"])
		}
		id, attr, hasAttr := strings.Cut(v, ".")
		if _, ok := tmpl.Resources[id]; ok {
			if hasAttr {
				return "getatt:" + id + "." + attr
			}
			return "ref:" + id
		}
		bad = append(bad, m)
		return m
	})
	if len(bad) > 0 {
		return "", fmt.Errorf("DashboardBody names what the template does not declare: %v", bad)
	}
	return out, nil
}

type dashboard struct {
	Widgets []struct {
		Type       string         `json:"type"`
		Properties map[string]any `json:"properties"`
	} `json:"widgets"`
}

func parseDashboard(body string) (*dashboard, error) {
	var d dashboard
	if err := json.Unmarshal([]byte(body), &d); err != nil {
		return nil, fmt.Errorf("dashboard body is not JSON: %w", err)
	}
	if len(d.Widgets) == 0 {
		return nil, fmt.Errorf("dashboard has no widgets")
	}
	return &d, nil
}

// metricRef is one metric a dashboard shows: from a metrics entry, or the
// schema and terms of a SEARCH expression.
type metricRef struct {
	widget, namespace, name string
	dims                    map[string]string // dimension → value ("" when a search leaves it open)
}

var (
	searchRe = regexp.MustCompile(`SEARCH\(\s*'([^']*)'`)
	schemaRe = regexp.MustCompile(`^\s*\{([^}]*)\}`)
	termRe   = regexp.MustCompile(`(\w+)="([^"]*)"`)
	sourceRe = regexp.MustCompile(`SOURCE '([^']*)'`)
	msgRe    = regexp.MustCompile(`\bmessage = "([^"]*)"`)
	fieldRe  = regexp.MustCompile(`\b(?:sum|ispresent|avg|max|min)\(([A-Z]\w*)\)`)
)

// metricRefs lists the metrics of one widget, or the problems reading them.
func metricRefs(title string, props map[string]any) ([]metricRef, []string) {
	var refs []metricRef
	var problems []string
	entries, _ := props["metrics"].([]any)
	for i, e := range entries {
		parts, _ := e.([]any)
		var strs []string
		for _, p := range parts {
			switch p := p.(type) {
			case string:
				strs = append(strs, p)
			case map[string]any:
				expr, _ := p["expression"].(string)
				for _, m := range searchRe.FindAllStringSubmatch(expr, -1) {
					ref, err := searchRef(title, m[1])
					if err != nil {
						problems = append(problems, err.Error())
						continue
					}
					refs = append(refs, ref)
				}
			}
		}
		if len(strs) == 0 {
			continue
		}
		if slices.Contains(strs, ".") || slices.Contains(strs, "...") || len(strs)%2 != 0 {
			problems = append(problems, fmt.Sprintf("%s: metric %d %v: write each metric in full (namespace, name, dimension pairs)", title, i+1, strs))
			continue
		}
		ref := metricRef{widget: title, namespace: strs[0], name: strs[1], dims: map[string]string{}}
		for j := 2; j+1 < len(strs); j += 2 {
			ref.dims[strs[j]] = strs[j+1]
		}
		refs = append(refs, ref)
	}
	return refs, problems
}

// searchRef reads a SEARCH expression's search string:
// {Namespace,Dim1,Dim2} MetricName="X" Dim1="v".
func searchRef(title, search string) (metricRef, error) {
	m := schemaRe.FindStringSubmatch(search)
	if m == nil {
		return metricRef{}, fmt.Errorf("%s: SEARCH(%q) has no {namespace,dimensions} schema: it cannot be checked", title, search)
	}
	schema := strings.Split(m[1], ",")
	ref := metricRef{widget: title, namespace: strings.TrimSpace(schema[0]), dims: map[string]string{}}
	for _, d := range schema[1:] {
		ref.dims[strings.TrimSpace(d)] = ""
	}
	for _, t := range termRe.FindAllStringSubmatch(search[len(m[0]):], -1) {
		if t[1] == "MetricName" {
			ref.name = t[2]
			continue
		}
		if _, ok := ref.dims[t[1]]; !ok {
			return metricRef{}, fmt.Errorf("%s: SEARCH(%q) filters on %s, which is not in its schema", title, search, t[1])
		}
		ref.dims[t[1]] = t[2]
	}
	if ref.name == "" {
		return metricRef{}, fmt.Errorf("%s: SEARCH(%q) names no MetricName", title, search)
	}
	return ref, nil
}

// checkDashboardRefs checks every metric and log group the dashboard
// refers to.
func checkDashboardRefs(tmpl *stack.Template, d *dashboard, emitted map[string]*emittedMetric, literals map[string]bool) []string {
	var problems []string
	isType := func(v, prefix, typ string) bool {
		id, ok := strings.CutPrefix(v, prefix)
		if !ok {
			return false
		}
		if prefix == "getatt:" {
			var attr string
			id, attr, _ = strings.Cut(id, ".")
			if attr != "QueueName" {
				return false
			}
		}
		r, ok := tmpl.Resources[id]
		return ok && r.Type == typ
	}
	dimsOnly := func(ref metricRef, want string) bool {
		return len(ref.dims) == 1 && ref.dims[want] != ""
	}
	for _, w := range d.Widgets {
		title, _ := w.Properties["title"].(string)
		switch w.Type {
		case "metric":
			refs, ps := metricRefs(title, w.Properties)
			problems = append(problems, ps...)
			for _, ref := range refs {
				keys := slices.Sorted(maps.Keys(ref.dims))
				switch ref.namespace {
				case "wacloud":
					problems = append(problems, checkEmitted(ref, keys, emitted)...)
				case "AWS/Lambda":
					if !dimsOnly(ref, "FunctionName") || !isType(ref.dims["FunctionName"], "ref:", "AWS::Serverless::Function") {
						problems = append(problems, fmt.Sprintf("%s: AWS/Lambda %s %v: not a function of the template (want FunctionName ${SomeFunction})", title, ref.name, ref.dims))
					}
				case "AWS/SQS":
					if !dimsOnly(ref, "QueueName") || !isType(ref.dims["QueueName"], "getatt:", "AWS::SQS::Queue") {
						problems = append(problems, fmt.Sprintf("%s: AWS/SQS %s %v: not a queue of the template (want QueueName ${SomeQueue.QueueName})", title, ref.name, ref.dims))
					}
				case "AWS/ApiGateway":
					if !dimsOnly(ref, "ApiId") || !isType(ref.dims["ApiId"], "ref:", "AWS::Serverless::HttpApi") {
						problems = append(problems, fmt.Sprintf("%s: AWS/ApiGateway %s %v: not an HTTP API of the template (want ApiId ${SomeHttpApi})", title, ref.name, ref.dims))
					}
				case "AWS/DynamoDB":
					if !dynamoDBTableMetrics[ref.name] {
						problems = append(problems, fmt.Sprintf("%s: AWS/DynamoDB %s: not a table metric DynamoDB publishes per table", title, ref.name))
					}
					if !dimsOnly(ref, "TableName") || !isType(ref.dims["TableName"], "ref:", "AWS::DynamoDB::Table") {
						problems = append(problems, fmt.Sprintf("%s: AWS/DynamoDB %s %v: not a table of the template (want TableName ${SomeTable})", title, ref.name, ref.dims))
					}
				default:
					problems = append(problems, fmt.Sprintf("%s: %s/%s: no check for namespace %s; add one to this test", title, ref.namespace, ref.name, ref.namespace))
				}
			}
		case "log":
			q, _ := w.Properties["query"].(string)
			sources := sourceRe.FindAllStringSubmatch(q, -1)
			if len(sources) == 0 {
				problems = append(problems, fmt.Sprintf("%s: log query names no SOURCE log group", title))
			}
			for _, s := range sources {
				if !isType(s[1], "ref:", "AWS::Logs::LogGroup") {
					problems = append(problems, fmt.Sprintf("%s: SOURCE %q is not a log group of the template (want ${SomeLogGroup})", title, s[1]))
				}
			}
			for _, m := range msgRe.FindAllStringSubmatch(q, -1) {
				if !literals[m[1]] {
					problems = append(problems, fmt.Sprintf("%s: filters on log message %q, but the code has no string %q", title, m[1], m[1]))
				}
			}
			for _, m := range fieldRe.FindAllStringSubmatch(q, -1) {
				if !isEmittedField(m[1], emitted) {
					problems = append(problems, fmt.Sprintf("%s: field %s is neither a metric the code emits nor one of their dimensions", title, m[1]))
				}
			}
		}
	}
	return problems
}

// dynamoDBTableMetrics are the metrics DynamoDB publishes with the
// TableName dimension alone (others, such as ThrottledRequests, also
// name the operation).
var dynamoDBTableMetrics = map[string]bool{
	"ReadThrottleEvents": true, "WriteThrottleEvents": true, "TransactionConflict": true,
	"ConsumedReadCapacityUnits": true, "ConsumedWriteCapacityUnits": true,
}

func checkEmitted(ref metricRef, keys []string, emitted map[string]*emittedMetric) []string {
	m, ok := emitted[ref.name]
	if !ok {
		return []string{fmt.Sprintf("%s: shows wacloud/%s, which no code emits", ref.widget, ref.name)}
	}
	fn, hasFunction := ref.dims["Function"]
	if !hasFunction {
		return []string{fmt.Sprintf("%s: wacloud/%s without the Function dimension (every Recorder sets it): the graph would be empty", ref.widget, ref.name)}
	}
	var problems []string
	if fn != "" && !m.functions[fn] {
		problems = append(problems, fmt.Sprintf("%s: wacloud/%s with Function=%s; the code emits it under %v", ref.widget, ref.name, fn, slices.Sorted(maps.Keys(m.functions))))
	}
	if m.dimSets != nil {
		extra := slices.DeleteFunc(slices.Clone(keys), func(k string) bool { return k == "Function" })
		if !m.dimSets[strings.Join(extra, ",")] {
			var want []string
			for s := range m.dimSets {
				want = append(want, "[Function"+map[bool]string{true: "", false: " " + strings.ReplaceAll(s, ",", " ")}[s == ""]+"]")
			}
			sort.Strings(want)
			problems = append(problems, fmt.Sprintf("%s: wacloud/%s with dimensions %v; the code emits it with %s (CloudWatch keys a metric by its whole dimension set)", ref.widget, ref.name, keys, strings.Join(want, " or ")))
		}
	}
	return problems
}

func isEmittedField(field string, emitted map[string]*emittedMetric) bool {
	if _, ok := emitted[field]; ok {
		return true
	}
	for _, m := range emitted {
		for s := range m.dimSets {
			if slices.Contains(strings.Split(s, ","), field) {
				return true
			}
		}
	}
	return false
}

// checkDashboardCoverage checks that every function shows its duration,
// errors, throttles and concurrency, every queue its depth and oldest
// age, and every function's log group feeds the memory widget.
func checkDashboardCoverage(tmpl *stack.Template, d *dashboard) []string {
	shown := map[string]bool{} // "namespace metric value"
	memory := map[string]bool{}
	for _, w := range d.Widgets {
		title, _ := w.Properties["title"].(string)
		if w.Type == "log" {
			q, _ := w.Properties["query"].(string)
			if strings.Contains(q, `"platform.report"`) && strings.Contains(q, "maxMemoryUsedMB") {
				for _, s := range sourceRe.FindAllStringSubmatch(q, -1) {
					memory[strings.TrimPrefix(s[1], "ref:")] = true
				}
			}
			continue
		}
		refs, _ := metricRefs(title, w.Properties)
		for _, r := range refs {
			for _, v := range r.dims {
				shown[r.namespace+" "+r.name+" "+v] = true
			}
		}
	}
	var problems []string
	for _, id := range tmpl.OfType("AWS::Serverless::Function") {
		for _, m := range []string{"Duration", "Errors", "Throttles", "ConcurrentExecutions"} {
			if !shown["AWS/Lambda "+m+" ref:"+id] {
				problems = append(problems, fmt.Sprintf("the dashboard shows no AWS/Lambda %s of %s", m, id))
			}
		}
		lc, _ := tmpl.Resources[id].Properties["LoggingConfig"].(map[string]any)
		group, _ := lc["LogGroup"].(map[string]any)
		if lg, _ := group["Ref"].(string); !memory[lg] {
			problems = append(problems, fmt.Sprintf("the memory widget (platform.report maxMemoryUsedMB) does not read %s's log group %v", id, lc["LogGroup"]))
		}
	}
	for _, id := range tmpl.OfType("AWS::SQS::Queue") {
		for _, m := range []string{"ApproximateNumberOfMessagesVisible", "ApproximateAgeOfOldestMessage"} {
			if !shown["AWS/SQS "+m+" getatt:"+id+".QueueName"] {
				problems = append(problems, fmt.Sprintf("the dashboard shows no AWS/SQS %s of %s", m, id))
			}
		}
	}
	return problems
}
