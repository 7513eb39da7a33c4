package status_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/tucanlink/wacloud/shared/tenant"
)

// The sample events for `sam local invoke StatusFunction` run through the
// handler and produce one event per unit.
func TestSampleEvents(t *testing.T) {
	files, err := filepath.Glob("../../events/status/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no samples: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			e := newEnv(t)
			ctx := context.Background()
			if err := e.registry.Put(ctx, tenant.Tenant{ID: "demo"}, []tenant.Number{
				{PhoneNumberID: "100000000000001", WABAID: "200000000000001", DisplayPhoneNumber: "15550000001"},
			}); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var ev events.SQSEvent
			if err := json.Unmarshal(b, &ev); err != nil {
				t.Fatal(err)
			}
			resp, err := e.h.Handle(ctx, ev)
			if err != nil || len(resp.BatchItemFailures) != 0 {
				t.Fatalf("Handle: %v %v", err, resp.BatchItemFailures)
			}
			if dlq := e.drain(t, e.dlqURL); len(dlq) != 0 {
				t.Fatalf("%d records dead-lettered", len(dlq))
			}
			evs := e.events(t)
			if len(evs) != len(ev.Records) {
				t.Fatalf("%d events for %d records", len(evs), len(ev.Records))
			}
			for _, got := range evs {
				if got.TenantID != "demo" {
					t.Errorf("tenant %q", got.TenantID)
				}
			}
		})
	}
}
