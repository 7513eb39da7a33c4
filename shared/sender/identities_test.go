package sender

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tucanlink/wacloud/shared/event"
	"github.com/tucanlink/wacloud/shared/identity"
	"github.com/tucanlink/wacloud/shared/outbound"
)

// TestRecipientIdentity: the window a contact opened by writing in (under
// Meta's wa_id or its business-scoped user id) is found for the job that
// answers it, however the job names the contact; the result names the
// contact as the contact's inbound events do; what Meta resolves a number
// to is kept, so the next jobs (on any instance) check the window and pace
// under it.
func TestRecipientIdentity(t *testing.T) {
	e := testEnv(t)
	ctx := context.Background()
	ids := &identity.Store{API: e.ddb, Table: e.stack.Names.Ref["StateTable"]}
	run := runOf(t) % 10000
	// A Brazilian account registered before the ninth digit: wa_id
	// 55 11 6XXX XXXX, the CRM writes +55 11 9 6XXX XXXX.
	br12 := fmt.Sprintf("551168%04d01", run)
	br13 := br12[:4] + "9" + br12[4:]
	// A Mexican mobile: wa_id 52 1 …, dialled +52 ….
	mx13 := fmt.Sprintf("52155%04d0102", run)
	mx12 := "52" + mx13[3:]
	bsuid := fmt.Sprintf("BR.%d7700000001", 100000+run)
	bsuidOfPhone, phoneOfBSUID := fmt.Sprintf("BR.%d7700000002", 100000+run), fmt.Sprintf("551197%04d02", run)
	tests := []struct {
		name        string
		windowUnder string // the contact wrote in: the window is under this id
		mapped      [2]string
		job         func(id string) outbound.Job
		wantResult  string
		wantContact event.Contact
		wantMapping [2]string // input → identity recorded after the send
	}{
		{
			name: "Brazilian number answered in its 13-digit form", windowUnder: br12,
			job:        func(id string) outbound.Job { return textJob(id, "+"+br13, "oi") },
			wantResult: event.TypeOutboundAccepted, wantContact: event.Contact{WaID: br12},
			wantMapping: [2]string{br13, br12},
		},
		{
			name: "Mexican number answered without the 1", windowUnder: mx13,
			job:        func(id string) outbound.Job { return textJob(id, "+"+mx12, "hola") },
			wantResult: event.TypeOutboundAccepted, wantContact: event.Contact{WaID: mx12},
		},
		{
			name: "contact known only by its business-scoped user id", windowUnder: bsuid,
			job: func(id string) outbound.Job {
				j := textJob(id, "", "hi")
				j.Recipient = bsuid
				return j
			},
			wantResult: event.TypeOutboundAccepted, wantContact: event.Contact{UserID: bsuid},
		},
		{
			name: "business-scoped user id of a contact whose window is under its wa_id", windowUnder: phoneOfBSUID,
			mapped: [2]string{bsuidOfPhone, phoneOfBSUID},
			job: func(id string) outbound.Job {
				j := textJob(id, "", "hi")
				j.Recipient = bsuidOfPhone
				return j
			},
			wantResult: event.TypeOutboundAccepted, wantContact: event.Contact{WaID: phoneOfBSUID},
		},
		{
			name: "Brazilian number that never wrote", windowUnder: "",
			job:        func(id string) outbound.Job { return textJob(id, fmt.Sprintf("+551196%04d0999", run), "oi") },
			wantResult: event.TypeOutboundFailed, wantContact: event.Contact{WaID: fmt.Sprintf("551196%04d0999", run)},
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.windowUnder != "" {
				e.openWindowOn(t, numberA, tt.windowUnder, time.Now().Add(-time.Minute))
				e.sim.OpenWindow(numberA, tt.windowUnder, time.Now().Add(-time.Minute)) // Meta knows the account
			}
			if tt.mapped[0] != "" {
				if err := ids.Put(ctx, "demo", numberA, tt.mapped[0], tt.mapped[1]); err != nil { // as inbound records it
					t.Fatal(err)
				}
			}
			id := jid(t, fmt.Sprintf("identity-%d", i))
			if failed := handle(t, e.handler(t), record(t, tt.job(id), 1)); len(failed) != 0 {
				t.Fatal(failed)
			}
			evs := e.coreEvents(t, id)
			if len(evs) != 1 || evs[0].Type != tt.wantResult || evs[0].Contact == nil || *evs[0].Contact != tt.wantContact {
				t.Fatalf("events %+v (contact %+v), want %s for %+v", evs, evs[0].Contact, tt.wantResult, tt.wantContact)
			}
			if tt.wantResult == event.TypeOutboundFailed && evs[0].Outbound.Reason != event.ReasonWindowClosed {
				t.Errorf("reason %s, want window_closed", evs[0].Outbound.Reason)
			}
			if in := tt.wantMapping[0]; in != "" {
				m, ok, err := ids.Get(ctx, "demo", numberA, in)
				if err != nil || !ok || m.Identity != tt.wantMapping[1] {
					t.Errorf("mapping of %s = %+v, %v, %v; want %s", in, m, ok, err, tt.wantMapping[1])
				}
			}
		})
	}

	// Another instance, empty caches: the Brazilian number's next job is
	// paced and checked under the wa_id straight from the mapping.
	t.Run("next job on another instance", func(t *testing.T) {
		id := jid(t, "identity-next")
		if failed := handle(t, e.handler(t), record(t, textJob(id, "+"+br13, "de novo"), 1)); len(failed) != 0 {
			t.Fatal(failed)
		}
		evs := e.coreEvents(t, id)
		if len(evs) != 1 || evs[0].Type != event.TypeOutboundAccepted || evs[0].Contact.WaID != br12 {
			t.Fatalf("events %+v", evs)
		}
		out, err := e.ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(e.stack.Names.Ref["StateTable"]),
			Key: map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: "rate#pair#" + numberA + "#" + br12}}, ConsistentRead: aws.Bool(true)})
		if err != nil {
			t.Fatal(err)
		}
		if out.Item == nil {
			t.Errorf("no pair limit under the wa_id %s: the job was paced under another key", br12)
		}
	})
}
