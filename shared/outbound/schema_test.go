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
