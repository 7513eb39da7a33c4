package stack_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/tucanlink/wacloud/local/stack"
)

// securityChecks are the properties a security scan of the deployed stack
// asks for. Each returns what it finds missing; none is a pass.
var securityChecks = []struct {
	name  string
	check func(*stack.Template) []string
	// remove takes the property away again, so the check is shown to
	// notice it.
	remove func(*stack.Template)
}{
	{
		name:   "every function is traced (X-Ray, active by default)",
		check:  checkTracing,
		remove: func(t *stack.Template) { delete(t.Globals["Function"].(map[string]any), "Tracing") },
	},
	{
		name:  "no function opts out of tracing",
		check: checkTracing,
		remove: func(t *stack.Template) {
			t.Resources["SenderFunction"].Properties["Tracing"] = "PassThrough"
		},
	},
	{
		name:  "the campaign scheduler role is Scheduler's, of this account only",
		check: checkSchedulerRole,
		remove: func(t *stack.Template) {
			doc := mapOf(t.Resources["CampaignSchedulerRole"].Properties["AssumeRolePolicyDocument"])
			delete(mapOf(list(doc["Statement"])[0]), "Condition")
		},
	},
	{
		name:  "the campaign scheduler role sends run commands and nothing else",
		check: checkSchedulerRole,
		remove: func(t *stack.Template) {
			p := mapOf(list(t.Resources["CampaignSchedulerRole"].Properties["Policies"])[0])
			st := mapOf(list(mapOf(p["PolicyDocument"])["Statement"])[0])
			st["Action"] = "sqs:*"
		},
	},
	{
		name:  "the API passes the scheduler role to Scheduler only",
		check: checkSchedulerRole,
		remove: func(t *stack.Template) {
			for _, s := range statements(t.Resources["ApiFunction"]) {
				if m := mapOf(s); m["Sid"] == "PassSchedulerRole" {
					delete(m, "Condition")
				}
			}
		},
	},
	{
		name:   "every queue is encrypted with KMS",
		check:  checkQueueEncryption,
		remove: func(t *stack.Template) { delete(t.Resources["OutboundDLQ"].Properties, "KmsMasterKeyId") },
	},
	{
		name:  "a customer queue key needs its parameter and condition",
		check: checkQueueEncryption,
		remove: func(t *stack.Template) {
			delete(t.Conditions, "HasQueueKey")
		},
	},
	{
		name:  "functions that use a queue may use its customer key",
		check: checkQueueKeyStatements,
		remove: func(t *stack.Template) {
			dropStatements(t.Resources["SenderFunction"], func(s any) bool {
				_, isIf := mapOf(s)["Fn::If"]
				return isIf
			})
		},
	},
	{
		name:  "the queue key statement is only there with a customer key",
		check: checkQueueKeyStatements,
		remove: func(t *stack.Template) {
			// The statement without its !If: granted with or without a key.
			for _, p := range list(t.Resources["WebhookFunction"].Properties["Policies"]) {
				st := list(mapOf(p)["Statement"])
				for i, s := range st {
					if b, ok := mapOf(s)["Fn::If"].([]any); ok && len(b) == 3 {
						st[i] = b[1]
					}
				}
			}
		},
	},
	{
		name:   "the HTTP API writes JSON access logs to a log group with retention",
		check:  checkAccessLogs,
		remove: func(t *stack.Template) { delete(t.Resources["WebhookApi"].Properties, "AccessLogSettings") },
	},
	{
		name:   "the access log group has a retention",
		check:  checkAccessLogs,
		remove: func(t *stack.Template) { delete(t.Resources["WebhookApiAccessLogGroup"].Properties, "RetentionInDays") },
	},
	{
		name:  "the access log format is JSON",
		check: checkAccessLogs,
		remove: func(t *stack.Template) {
			set(t.Resources["WebhookApi"].Properties["AccessLogSettings"], "Format", "$context.requestId $context.status")
		},
	},
	{
		name:   "the HTTP API throttles its default route",
		check:  checkRouteThrottling,
		remove: func(t *stack.Template) { delete(t.Resources["WebhookApi"].Properties, "DefaultRouteSettings") },
	},
	{
		name:  "the route throttling comes from parameters",
		check: checkRouteThrottling,
		remove: func(t *stack.Template) {
			set(t.Resources["WebhookApi"].Properties["DefaultRouteSettings"], "ThrottlingBurstLimit", 5000)
		},
	},
	{
		name:   "the data bucket is versioned",
		check:  checkBuckets,
		remove: func(t *stack.Template) { delete(t.Resources["DataBucket"].Properties, "VersioningConfiguration") },
	},
	{
		name:  "old versions expire",
		check: checkBuckets,
		remove: func(t *stack.Template) {
			lc := t.Resources["DataBucket"].Properties["LifecycleConfiguration"]
			set(lc, "Rules", slices.DeleteFunc(list(mapOf(lc)["Rules"]), func(r any) bool {
				_, ok := mapOf(r)["NoncurrentVersionExpiration"]
				return ok
			}))
		},
	},
	{
		name:   "the data bucket logs server access",
		check:  checkBuckets,
		remove: func(t *stack.Template) { delete(t.Resources["DataBucket"].Properties, "LoggingConfiguration") },
	},
	{
		name:   "the log bucket lets S3's logging service write",
		check:  checkBuckets,
		remove: func(t *stack.Template) { delete(t.Resources, "LogBucketPolicy") },
	},
	{
		name:   "the data bucket refuses plain HTTP",
		check:  checkBuckets,
		remove: func(t *stack.Template) { delete(t.Resources, "DataBucketPolicy") },
	},
	{
		name:  "buckets block public access",
		check: checkBuckets,
		remove: func(t *stack.Template) {
			set(t.Resources["LogBucket"].Properties["PublicAccessBlockConfiguration"], "RestrictPublicBuckets", false)
		},
	},
	{
		name:   "buckets are encrypted",
		check:  checkBuckets,
		remove: func(t *stack.Template) { delete(t.Resources["LogBucket"].Properties, "BucketEncryption") },
	},
	{
		name:  "every SQS event source has a MaximumConcurrency",
		check: checkMaximumConcurrency,
		remove: func(t *stack.Template) {
			ev := mapOf(mapOf(t.Resources["StatusFunction"].Properties["Events"])["Status"])
			delete(mapOf(ev["Properties"]), "ScalingConfig")
		},
	},
	{
		name:  "MaximumConcurrency comes from a parameter SQS accepts",
		check: checkMaximumConcurrency,
		remove: func(t *stack.Template) {
			set(t.Parameters["InboundMaxConcurrency"], "MinValue", 1)
		},
	},
	{
		name:  "the webhook has reserved concurrency",
		check: checkWebhookReservedConcurrency,
		remove: func(t *stack.Template) {
			delete(t.Resources["WebhookFunction"].Properties, "ReservedConcurrentExecutions")
		},
	},
	{
		name:  "management API routes require the JWT authorizer",
		check: checkAPIAuth,
		remove: func(t *stack.Template) {
			ev := mapOf(mapOf(t.Resources["ApiFunction"].Properties["Events"])["SendMessage"])
			delete(mapOf(ev["Properties"]), "Auth")
		},
	},
	{
		name:  "no default authorizer lets a /v1 route through",
		check: checkAPIAuth,
		remove: func(t *stack.Template) {
			ev := mapOf(mapOf(t.Resources["ApiFunction"].Properties["Events"])["SendMessage"])
			set(mapOf(ev["Properties"])["Auth"], "Authorizer", "NONE")
		},
	},
	{
		name:  "the authorizer's issuer and audience are parameters",
		check: checkAPIAuth,
		remove: func(t *stack.Template) {
			jc := mapOf(mapOf(mapOf(mapOf(t.Resources["WebhookApi"].Properties["Auth"])["Authorizers"])["CoreJwt"])["JwtConfiguration"])
			set(jc, "issuer", "https://issuer.example.com")
		},
	},
	{
		name:  "the webhook stays open (Meta presents no token)",
		check: checkAPIAuth,
		remove: func(t *stack.Template) {
			set(t.Resources["WebhookApi"].Properties["Auth"], "DefaultAuthorizer", "CoreJwt")
		},
	},
	{
		name:  "the reserved concurrency is a parameter that cannot be 0",
		check: checkWebhookReservedConcurrency,
		remove: func(t *stack.Template) {
			set(t.Parameters["WebhookReservedConcurrency"], "MinValue", 0)
		},
	},
}

// checkAPIAuth: every route under /v1 names a JWT authorizer of its API
// whose issuer and audience are template parameters; no route outside /v1
// names one (Meta's webhook signs its bodies instead), and no API has a
// DefaultAuthorizer that would put one on the webhook.
func checkAPIAuth(t *stack.Template) []string {
	var out []string
	for _, id := range t.OfType("AWS::Serverless::HttpApi") {
		auth := mapOf(t.Resources[id].Properties["Auth"])
		if d, ok := auth["DefaultAuthorizer"]; ok {
			out = append(out, fmt.Sprintf("%s: DefaultAuthorizer %v would apply to the webhook routes; name the authorizer on each /v1 route", id, d))
		}
	}
	for _, id := range t.OfType("AWS::Serverless::Function") {
		evs, _ := t.Resources[id].Properties["Events"].(map[string]any)
		for name, e := range evs {
			ev := mapOf(e)
			if ev["Type"] != "HttpApi" {
				continue
			}
			props := mapOf(ev["Properties"])
			path := fmt.Sprint(props["Path"])
			authorizer, _ := mapOf(props["Auth"])["Authorizer"].(string)
			if !strings.HasPrefix(path, "/v1/") {
				if authorizer != "" && authorizer != "NONE" {
					out = append(out, fmt.Sprintf("%s event %s: %s is not a management route but names authorizer %s", id, name, path, authorizer))
				}
				continue
			}
			api := fmt.Sprint(mapOf(props["ApiId"])["Ref"])
			def := mapOf(mapOf(mapOf(t.Resources[api].Properties["Auth"])["Authorizers"])[authorizer])
			jc := mapOf(def["JwtConfiguration"])
			if authorizer == "" || authorizer == "NONE" || jc == nil {
				out = append(out, fmt.Sprintf("%s event %s: %s names no JWT authorizer of %s (Auth.Authorizer = %q)", id, name, path, api, authorizer))
				continue
			}
			if def["IdentitySource"] != "$request.header.Authorization" {
				out = append(out, fmt.Sprintf("%s authorizer %s: IdentitySource %v, want $request.header.Authorization", api, authorizer, def["IdentitySource"]))
			}
			if param, _ := mapOf(jc["issuer"])["Ref"].(string); t.Parameters[param] == nil {
				out = append(out, fmt.Sprintf("%s authorizer %s: issuer %v is not !Ref of a parameter", api, authorizer, jc["issuer"]))
			}
			aud := list(jc["audience"])
			if len(aud) == 0 {
				out = append(out, fmt.Sprintf("%s authorizer %s: no audience", api, authorizer))
			}
			for _, a := range aud {
				if param, _ := mapOf(a)["Ref"].(string); t.Parameters[param] == nil {
					out = append(out, fmt.Sprintf("%s authorizer %s: audience %v is not !Ref of a parameter", api, authorizer, a))
				}
			}
		}
	}
	return out
}

// TestTemplateSecurity checks the properties a security scan asks of the
// deployed stack, and that each check notices when its property is taken
// away.
func TestTemplateSecurity(t *testing.T) {
	for _, c := range securityChecks {
		t.Run(c.name, func(t *testing.T) {
			for _, p := range c.check(load(t)) {
				t.Error(p)
			}
			broken := load(t)
			c.remove(broken)
			if got := c.check(broken); len(got) == 0 {
				t.Errorf("the check passes with the property removed")
			}
		})
	}
}

func checkQueueEncryption(t *stack.Template) []string {
	var out []string
	want := map[string]any{"Fn::If": []any{"HasQueueKey", map[string]any{"Ref": "QueueKmsKeyArn"}, "alias/aws/sqs"}}
	for _, id := range t.OfType("AWS::SQS::Queue") {
		if got := t.Resources[id].Properties["KmsMasterKeyId"]; !jsonEqual(got, want) {
			out = append(out, fmt.Sprintf("%s: KmsMasterKeyId = %v, want %v", id, got, want))
		}
	}
	if p, ok := t.Parameters["QueueKmsKeyArn"]; !ok || p["Default"] != "" {
		out = append(out, fmt.Sprintf("parameter QueueKmsKeyArn = %v, want one defaulting to empty", p))
	}
	want = map[string]any{"Fn::Not": []any{map[string]any{"Fn::Equals": []any{map[string]any{"Ref": "QueueKmsKeyArn"}, ""}}}}
	if got := t.Conditions["HasQueueKey"]; !jsonEqual(got, want) {
		out = append(out, fmt.Sprintf("condition HasQueueKey = %v, want %v", got, want))
	}
	return out
}

// checkQueueKeyStatements: a function that sends to a queue needs
// kms:GenerateDataKey and kms:Decrypt on a customer key, one that receives
// kms:Decrypt; the statement exists only when the key is given.
func checkQueueKeyStatements(t *stack.Template) []string {
	var out []string
	for _, id := range t.OfType("AWS::Serverless::Function") {
		r := t.Resources[id]
		var need []string
		sends := false
		for _, s := range statements(r) {
			m, _ := s.(map[string]any)
			for _, a := range actions(m) {
				if a == "sqs:SendMessage" {
					sends = true
				}
			}
		}
		if sends {
			need = append(need, "kms:GenerateDataKey", "kms:Decrypt")
		}
		evs, _ := r.Properties["Events"].(map[string]any)
		for _, e := range evs {
			if e.(map[string]any)["Type"] == "SQS" && !slices.Contains(need, "kms:Decrypt") {
				need = append(need, "kms:Decrypt")
			}
		}
		if len(need) == 0 {
			continue
		}
		var granted []string
		for _, s := range statements(r) {
			m, _ := s.(map[string]any)
			if sid, _ := m["Sid"].(string); strings.HasPrefix(sid, "QueueKey") {
				out = append(out, fmt.Sprintf("%s: statement %s is there without a customer key; wrap it in !If [HasQueueKey, …, !Ref AWS::NoValue]", id, sid))
				continue
			}
			branches, _ := m["Fn::If"].([]any)
			if len(branches) != 3 || branches[0] != "HasQueueKey" || !jsonEqual(branches[2], map[string]any{"Ref": "AWS::NoValue"}) {
				continue
			}
			st, _ := branches[1].(map[string]any)
			if sid, _ := st["Sid"].(string); !strings.HasPrefix(sid, "QueueKey") || st["Effect"] != "Allow" {
				continue
			}
			if !jsonEqual(st["Resource"], map[string]any{"Ref": "QueueKmsKeyArn"}) {
				out = append(out, fmt.Sprintf("%s: %v grants on %v, want !Ref QueueKmsKeyArn", id, st["Sid"], st["Resource"]))
				continue
			}
			granted = append(granted, actions(st)...)
		}
		for _, a := range need {
			if !slices.Contains(granted, a) {
				out = append(out, fmt.Sprintf("%s uses a queue but has no QueueKey statement granting %s on the customer key", id, a))
			}
		}
	}
	return out
}

func checkAccessLogs(t *stack.Template) []string {
	var out []string
	for _, id := range t.OfType("AWS::Serverless::HttpApi") {
		als, _ := t.Resources[id].Properties["AccessLogSettings"].(map[string]any)
		if als == nil {
			out = append(out, id+": no AccessLogSettings")
			continue
		}
		group := getAttID(als["DestinationArn"])
		lg, ok := t.Resources[group]
		if !ok || lg.Type != "AWS::Logs::LogGroup" {
			out = append(out, fmt.Sprintf("%s: access logs go to %v, not a log group of the template", id, als["DestinationArn"]))
		} else if _, ok := lg.Properties["RetentionInDays"]; !ok {
			out = append(out, fmt.Sprintf("%s: log group %s keeps logs forever (no RetentionInDays)", id, group))
		}
		format, _ := als["Format"].(string)
		var fields map[string]string
		if err := json.Unmarshal([]byte(format), &fields); err != nil {
			out = append(out, fmt.Sprintf("%s: access log Format is not a JSON object: %v", id, err))
			continue
		}
		for _, v := range []string{"$context.requestId", "$context.status", "$context.routeKey", "$context.identity.sourceIp"} {
			if !slices.Contains(slices.Collect(maps.Values(fields)), v) {
				out = append(out, fmt.Sprintf("%s: access log Format lacks %s", id, v))
			}
		}
	}
	return out
}

func checkRouteThrottling(t *stack.Template) []string {
	var out []string
	for _, id := range t.OfType("AWS::Serverless::HttpApi") {
		drs, _ := t.Resources[id].Properties["DefaultRouteSettings"].(map[string]any)
		for key, param := range map[string]string{"ThrottlingRateLimit": "ApiThrottlingRateLimit", "ThrottlingBurstLimit": "ApiThrottlingBurstLimit"} {
			if !jsonEqual(drs[key], map[string]any{"Ref": param}) {
				out = append(out, fmt.Sprintf("%s: DefaultRouteSettings.%s = %v, want !Ref %s", id, key, drs[key], param))
			}
			if d := number(t.Parameters[param]["Default"]); d < 1 {
				out = append(out, fmt.Sprintf("parameter %s default = %v, want ≥ 1", param, t.Parameters[param]["Default"]))
			}
		}
	}
	return out
}

// checkBuckets: every bucket is encrypted, blocks public access and refuses
// plain HTTP; a bucket that holds data (any bucket no other bucket logs to)
// is versioned, expires old versions and logs server access to a log
// bucket whose policy lets S3's logging service write.
func checkBuckets(t *stack.Template) []string {
	var out []string
	policies := map[string][]any{}
	for _, id := range t.OfType("AWS::S3::BucketPolicy") {
		p := t.Resources[id].Properties
		ref, _ := p["Bucket"].(map[string]any)
		doc, _ := p["PolicyDocument"].(map[string]any)
		b := fmt.Sprint(ref["Ref"])
		policies[b] = append(policies[b], list(doc["Statement"])...)
	}
	logTargets := map[string]bool{}
	for _, id := range t.OfType("AWS::S3::Bucket") {
		lc, _ := t.Resources[id].Properties["LoggingConfiguration"].(map[string]any)
		if ref, ok := lc["DestinationBucketName"].(map[string]any); ok {
			logTargets[fmt.Sprint(ref["Ref"])] = true
		}
	}
	for _, id := range t.OfType("AWS::S3::Bucket") {
		p := t.Resources[id].Properties
		if _, ok := p["BucketEncryption"]; !ok {
			out = append(out, id+": no BucketEncryption")
		}
		pab, _ := p["PublicAccessBlockConfiguration"].(map[string]any)
		for _, k := range []string{"BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"} {
			if pab[k] != true {
				out = append(out, fmt.Sprintf("%s: PublicAccessBlockConfiguration.%s = %v, want true", id, k, pab[k]))
			}
		}
		if !deniesInsecureTransport(id, policies[id]) {
			out = append(out, id+": no bucket policy denying s3:* on the bucket and its objects when aws:SecureTransport is false")
		}
		if logTargets[id] {
			if !allowsLogDelivery(policies[id]) {
				out = append(out, id+": receives server access logs but its policy does not allow logging.s3.amazonaws.com to s3:PutObject")
			}
			continue
		}
		if v, _ := p["VersioningConfiguration"].(map[string]any); v["Status"] != "Enabled" {
			out = append(out, id+": not versioned")
		}
		expires := false
		for _, r := range list(mapOf(p["LifecycleConfiguration"])["Rules"]) {
			rule := mapOf(r)
			if _, ok := rule["NoncurrentVersionExpiration"]; ok && rule["Status"] == "Enabled" {
				expires = true
			}
		}
		if !expires {
			out = append(out, id+": versioned but no lifecycle rule expires noncurrent versions")
		}
		lc := mapOf(p["LoggingConfiguration"])
		target := fmt.Sprint(mapOf(lc["DestinationBucketName"])["Ref"])
		if r, ok := t.Resources[target]; !ok || r.Type != "AWS::S3::Bucket" || target == id {
			out = append(out, fmt.Sprintf("%s: LoggingConfiguration.DestinationBucketName = %v, want !Ref of another bucket of the template", id, lc["DestinationBucketName"]))
		}
	}
	return out
}

func deniesInsecureTransport(bucket string, statements []any) bool {
	for _, s := range statements {
		m := mapOf(s)
		cond := mapOf(mapOf(m["Condition"])["Bool"])
		if m["Effect"] != "Deny" || m["Principal"] != "*" || m["Action"] != "s3:*" || cond["aws:SecureTransport"] != "false" {
			continue
		}
		res, _ := json.Marshal(m["Resource"])
		if strings.Contains(string(res), `"Fn::GetAtt":["`+bucket+`","Arn"]`) && strings.Contains(string(res), "${"+bucket+".Arn}/*") {
			return true
		}
	}
	return false
}

func allowsLogDelivery(statements []any) bool {
	for _, s := range statements {
		m := mapOf(s)
		if m["Effect"] == "Allow" && mapOf(m["Principal"])["Service"] == "logging.s3.amazonaws.com" && slices.Contains(actions(m), "s3:PutObject") {
			return true
		}
	}
	return false
}

func checkMaximumConcurrency(t *stack.Template) []string {
	var out []string
	for _, id := range t.OfType("AWS::Serverless::Function") {
		evs, _ := t.Resources[id].Properties["Events"].(map[string]any)
		for name, e := range evs {
			ev := mapOf(e)
			if ev["Type"] != "SQS" {
				continue
			}
			mc := mapOf(mapOf(mapOf(ev["Properties"])["ScalingConfig"])["MaximumConcurrency"])
			param, _ := mc["Ref"].(string)
			p, ok := t.Parameters[param]
			if !ok {
				out = append(out, fmt.Sprintf("%s event %s: ScalingConfig.MaximumConcurrency is not !Ref of a parameter", id, name))
				continue
			}
			// SQS event sources accept 2 to 1000.
			if number(p["MinValue"]) < 2 || number(p["MaxValue"]) > 1000 || number(p["MaxValue"]) < 2 {
				out = append(out, fmt.Sprintf("parameter %s: MinValue %v, MaxValue %v; SQS accepts 2 to 1000", param, p["MinValue"], p["MaxValue"]))
			}
			if d := number(p["Default"]); d < 2 || d > 1000 {
				out = append(out, fmt.Sprintf("parameter %s: Default %v; SQS accepts 2 to 1000", param, p["Default"]))
			}
		}
	}
	return out
}

// checkWebhookReservedConcurrency: a function behind the HTTP API has
// concurrency of its own, so queue backlogs cannot take all of it.
func checkWebhookReservedConcurrency(t *stack.Template) []string {
	var out []string
	for _, id := range t.OfType("AWS::Serverless::Function") {
		r := t.Resources[id]
		evs, _ := r.Properties["Events"].(map[string]any)
		api := false
		for _, e := range evs {
			api = api || mapOf(e)["Type"] == "HttpApi"
		}
		if !api {
			continue
		}
		param, _ := mapOf(r.Properties["ReservedConcurrentExecutions"])["Ref"].(string)
		p, ok := t.Parameters[param]
		if !ok {
			out = append(out, fmt.Sprintf("%s: ReservedConcurrentExecutions = %v, want !Ref of a parameter", id, r.Properties["ReservedConcurrentExecutions"]))
			continue
		}
		// 0 would throttle every request.
		if number(p["MinValue"]) < 1 || number(p["Default"]) < 1 {
			out = append(out, fmt.Sprintf("parameter %s: MinValue %v, Default %v; want both ≥ 1", param, p["MinValue"], p["Default"]))
		}
	}
	return out
}

// statements returns every statement of a function's inline policies.
func statements(r stack.Resource) []any {
	var out []any
	for _, p := range list(r.Properties["Policies"]) {
		out = append(out, list(mapOf(p)["Statement"])...)
	}
	return out
}

// dropStatements removes the statements drop matches from r's policies.
func dropStatements(r stack.Resource, drop func(any) bool) {
	for _, p := range list(r.Properties["Policies"]) {
		m := mapOf(p)
		m["Statement"] = slices.DeleteFunc(list(m["Statement"]), drop)
	}
}

// actions returns a statement's Action as a list.
func actions(s map[string]any) []string {
	var out []string
	switch a := s["Action"].(type) {
	case string:
		out = append(out, a)
	case []any:
		for _, x := range a {
			out = append(out, fmt.Sprint(x))
		}
	}
	return out
}

// set sets m[key] when m is a map, so a removal finds nothing to break in
// a template that already lacks the property.
func set(m any, key string, v any) {
	if mm, ok := m.(map[string]any); ok && mm != nil {
		mm[key] = v
	}
}

func mapOf(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// number reads a template number (int, float or numeric string); -1 if absent.
func number(v any) float64 {
	if v == nil {
		return -1
	}
	f, err := strconv.ParseFloat(fmt.Sprint(v), 64)
	if err != nil {
		return -1
	}
	return f
}

func jsonEqual(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// checkTracing: Globals trace every function with the TracingMode
// parameter (default Active) and no function sets its own mode.
func checkTracing(t *stack.Template) []string {
	var out []string
	g, _ := t.Globals["Function"].(map[string]any)
	if want := map[string]any{"Ref": "TracingMode"}; !jsonEqual(g["Tracing"], want) {
		out = append(out, fmt.Sprintf("Globals.Function.Tracing = %v, want %v", g["Tracing"], want))
	}
	if p := t.Parameters["TracingMode"]; p == nil || p["Default"] != "Active" {
		out = append(out, fmt.Sprintf("parameter TracingMode = %v, want one defaulting to Active", p))
	}
	for _, id := range t.OfType("AWS::Serverless::Function") {
		if v, ok := t.Resources[id].Properties["Tracing"]; ok {
			out = append(out, fmt.Sprintf("%s: Tracing = %v overrides the Globals", id, v))
		}
	}
	return out
}

// checkSchedulerRole: CampaignSchedulerRole, which the campaign schedules
// send as, may be taken on only by EventBridge Scheduler for this
// account, and may only send to the campaign queue and its dead-letter
// queue (and use a customer queue key); the API passes it to Scheduler
// and nothing else.
func checkSchedulerRole(t *stack.Template) []string {
	var out []string
	r, ok := t.Resources["CampaignSchedulerRole"]
	if !ok || r.Type != "AWS::IAM::Role" {
		return []string{"no CampaignSchedulerRole (AWS::IAM::Role)"}
	}
	trust := list(mapOf(r.Properties["AssumeRolePolicyDocument"])["Statement"])
	wantTrust := map[string]any{"Effect": "Allow", "Principal": map[string]any{"Service": "scheduler.amazonaws.com"}, "Action": "sts:AssumeRole",
		"Condition": map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": map[string]any{"Ref": "AWS::AccountId"}}}}
	if len(trust) != 1 || !jsonEqual(trust[0], wantTrust) {
		out = append(out, fmt.Sprintf("CampaignSchedulerRole trust %v, want %v", trust, wantTrust))
	}
	allowed := map[string]bool{"sqs:SendMessage": true, "kms:GenerateDataKey": true, "kms:Decrypt": true}
	wantSend := []any{map[string]any{"Fn::GetAtt": []any{"CampaignQueue", "Arn"}}, map[string]any{"Fn::GetAtt": []any{"CampaignDLQ", "Arn"}}}
	for _, p := range list(r.Properties["Policies"]) {
		for _, st := range list(mapOf(mapOf(p)["PolicyDocument"])["Statement"]) {
			m := mapOf(st)
			if branches := list(m["Fn::If"]); len(branches) == 3 {
				m = mapOf(branches[1]) // the customer key's statement
			}
			for _, a := range actions(m) {
				if !allowed[a] {
					out = append(out, fmt.Sprintf("CampaignSchedulerRole grants %s", a))
				}
				if a == "sqs:SendMessage" && !jsonEqual(m["Resource"], wantSend) {
					out = append(out, fmt.Sprintf("CampaignSchedulerRole sends to %v, want %v", m["Resource"], wantSend))
				}
			}
		}
	}
	passes := 0
	for _, id := range t.OfType("AWS::Serverless::Function") {
		for _, s := range statements(t.Resources[id]) {
			m := mapOf(s)
			if !slices.Contains(actions(m), "iam:PassRole") {
				continue
			}
			passes++
			want := map[string]any{"Sid": "PassSchedulerRole", "Effect": "Allow", "Action": "iam:PassRole",
				"Resource":  map[string]any{"Fn::GetAtt": []any{"CampaignSchedulerRole", "Arn"}},
				"Condition": map[string]any{"StringEquals": map[string]any{"iam:PassedToService": "scheduler.amazonaws.com"}}}
			if id != "ApiFunction" || !jsonEqual(m, want) {
				out = append(out, fmt.Sprintf("%s passes a role: %v, want only ApiFunction's %v", id, m, want))
			}
		}
	}
	if passes != 1 {
		out = append(out, fmt.Sprintf("%d statements pass a role, want ApiFunction's one", passes))
	}
	return out
}
