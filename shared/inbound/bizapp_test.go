package inbound_test

import (
	"testing"

	"github.com/tucanlink/wacloud/shared/event"
	"github.com/tucanlink/wacloud/shared/tenant"
)

// Echoes of messages sent from the WhatsApp Business app arrive only for a
// number shared with the app: the first one marks the number, so the
// sender paces it at Meta's fixed 20/s. Other messages mark nothing.
func TestEchoMarksNumberSharedWithBusinessApp(t *testing.T) {
	cases := []struct {
		name, file string
		wantType   string
		want       bool
	}{
		{"echo from the Business app", "smb_message_echoes_text.json", event.TypeMessageEcho, true},
		{"message from a contact", "text.json", event.TypeMessageReceived, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			us := units(t, tc.file)
			pn := us[0].Metadata.PhoneNumberID
			e.register("demo", "", tenant.Number{PhoneNumberID: pn, WABAID: us[0].WABAID, Throughput: 80})
			if _, err := e.reg.Number(e.ctx, pn); err != nil { // the handler's cache is warm too
				t.Fatal(err)
			}
			e.enqueue(us...)
			if failed := e.pump(); failed != 0 {
				t.Fatalf("%d records failed", failed)
			}
			evs := e.coreEvents()
			if len(evs) != 1 || evs[0].Type != tc.wantType {
				t.Fatalf("events %+v, want one %s", evs, tc.wantType)
			}
			n, err := (&tenant.Registry{API: e.reg.API, Table: e.reg.Table}).Number(e.ctx, pn)
			if err != nil {
				t.Fatal(err)
			}
			if n.OnBizApp != tc.want || n.Throughput != 80 || n.TenantID != "demo" {
				t.Errorf("number = %+v, want on_biz_app %v and the rest unchanged", n, tc.want)
			}
			if got, want := n.Limit(), map[bool]int{true: tenant.BizAppThroughput, false: 80}[tc.want]; got != want {
				t.Errorf("limit %d, want %d", got, want)
			}
		})
	}
}
