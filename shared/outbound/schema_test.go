package outbound

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

func compileJobSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open("../../schema/outbound-job.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("outbound-job.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("outbound-job.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	return sch
}

// TestSampleEvents checks every sample SQS event in events/sender: the job
// matches the published schema, decodes and validates, and is enqueued
// with the group and deduplication ids the contract prescribes.
func TestSampleEvents(t *testing.T) {
	sch := compileJobSchema(t)
	files, err := filepath.Glob("../../events/sender/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no sample events: %v", err)
	}
	seen := map[string]bool{}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var ev events.SQSEvent
			if err := json.Unmarshal(raw, &ev); err != nil || len(ev.Records) == 0 {
				t.Fatalf("not an SQS event: %v", err)
			}
			for _, rec := range ev.Records {
				doc, err := jsonschema.UnmarshalJSON(strings.NewReader(rec.Body))
				if err != nil {
					t.Fatal(err)
				}
				if err := sch.Validate(doc); err != nil {
					t.Errorf("schema rejects the job: %v", err)
				}
				job, err := Decode([]byte(rec.Body))
				if err != nil {
					t.Fatal(err)
				}
				if err := Validate(job); err != nil {
					t.Errorf("Validate: %v", err)
				}
				seen[job.Type] = true
				if got, want := rec.Attributes["MessageGroupId"], job.GroupID(); got != want {
					t.Errorf("MessageGroupId = %q, want %q", got, want)
				}
				if got, want := rec.Attributes["MessageDeduplicationId"], job.JobID; got != want {
					t.Errorf("MessageDeduplicationId = %q, want %q", got, want)
				}
			}
		})
	}
	for _, typ := range Types {
		if !seen[typ] {
			t.Errorf("no sample event of type %s", typ)
		}
	}
}

// TestSchemaAgreesOnLimits checks that the schema rejects what Validate
// rejects, for the rules a schema can express.
func TestSchemaAgreesOnLimits(t *testing.T) {
	sch := compileJobSchema(t)
	tests := []struct {
		name string
		job  func() Job
	}{
		{"missing job_id", func() Job { j := base(TypeText); j.JobID = ""; return j }},
		{"bad to", func() Job { j := base(TypeText); j.To = "+55 11 9999"; return j }},
		{"text too long", func() Job { j := base(TypeText); j.Text.Body = strings.Repeat("x", 4097); return j }},
		{"caption too long", func() Job { j := base(TypeImage); j.Image.Caption = strings.Repeat("x", 1025); return j }},
		{"content missing", func() Job { j := base(TypeText); j.Text = nil; return j }},
		{"4 buttons", func() Job {
			j := base(TypeInteractive)
			for _, id := range []string{"a", "b"} {
				j.Interactive.Action.Buttons = append(j.Interactive.Action.Buttons, ReplyButton{Type: "reply", Reply: ReplyTitle{ID: id, Title: id}})
			}
			return j
		}},
		{"button title too long", func() Job {
			j := base(TypeInteractive)
			j.Interactive.Action.Buttons[0].Reply.Title = strings.Repeat("t", 21)
			return j
		}},
		{"11 sections", func() Job {
			j := base(TypeText)
			j.Type, j.Text, j.Interactive = TypeInteractive, nil, list(11, 1)
			return j
		}},
		{"row description too long", func() Job {
			j := base(TypeText)
			j.Type, j.Text, j.Interactive = TypeInteractive, nil, list(1, 1)
			j.Interactive.Action.Sections[0].Rows[0].Description = strings.Repeat("d", 73)
			return j
		}},
		{"template without language", func() Job { j := base(TypeTemplate); j.Template.Language.Code = ""; return j }},
		{"media id and link", func() Job { j := base(TypeImage); j.Image.ID = "1"; return j }},
		{"reaction to a non-wamid", func() Job { j := base(TypeReaction); j.Reaction.MessageID = "123"; return j }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := tt.job()
			if Validate(j) == nil {
				t.Fatal("Validate accepts the job; the case is wrong")
			}
			b, _ := json.Marshal(j)
			doc, _ := jsonschema.UnmarshalJSON(strings.NewReader(string(b)))
			if err := sch.Validate(doc); err == nil {
				t.Errorf("schema accepts %s", b)
			}
		})
	}
}
