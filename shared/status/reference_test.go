package status_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/tucanlink/wacloud/shared/event"
	"github.com/tucanlink/wacloud/shared/msglimit"
	"github.com/tucanlink/wacloud/shared/tenant"
	"github.com/tucanlink/wacloud/shared/whatsapp"
)

// utc formats a Unix time the way events carry it.
func utc(sec int64) string { return time.Unix(sec, 0).UTC().Format(time.RFC3339) }

// referenceCases lists, for every status and account payload of the
// reference set, the events the status function must produce: their type
// and field checks ("path=value" over the event JSON, dot-separated, array
// indexes as numbers).
var referenceCases = []struct {
	file   string
	accept string // wamid to record as sent by the connector first
	typ    string
	checks []string
}{
	{"status_delivered.json", "", "message.status", []string{
		"status.current=delivered", "status.previous=<nil>", "status.external=true", "status.message_id=wamid.xyzxyz",
		"status.pricing.pricing_model=CBP", "status.pricing.category=service", "status.pricing.billable=true",
		"status.conversation.id=7270432eae37498234f4444b35ffc5", "status.conversation.origin_type=service",
		"contact.wa_id=972987654321", "phone_number_id=1122334455667", "waba_id=5467539754836534",
		"occurred_at=" + utc(1698266945), "status.at=" + utc(1698266945)}},
	{"status_delivered_pricing_marketing.json", "", "message.status", []string{
		"status.current=delivered", "status.pricing.category=marketing", "status.conversation.origin_type=marketing",
		"contact.wa_id=CUSTOMER_PHONE_NUMBER"}},
	{"status_delivered_v25.json", "", "message.status", []string{
		"status.current=delivered", "status.recipient=16315551181", "status.recipient_user_id=US.13491208655302741918",
		"status.conversation.expires_at=" + utc(1504903988), "contact.wa_id=16315551181", "contact.user_id=US.13491208655302741918"}},
	{"status_failed_130472.json", "", "message.status", []string{
		"status.current=failed", "status.errors.0.code=130472", "status.errors.0.title=User's number is part of an experiment",
		"status.errors.0.details=Failed to send message because this user's phone number is part of an experiment",
		"status.errors.0.href=https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
		"status.failure.reason=user_in_experiment", "status.failure.retryable=false"}},
	{"status_failed_131047_reengagement.json", "", "message.status", []string{
		"status.current=failed", "status.errors.0.code=131047", "status.failure.reason=window_closed",
		"contact.wa_id=15555558888", "phone_number_id=15555559999"}},
	{"status_failed_131053_media_upload.json", "", "message.status", []string{
		"status.current=failed", "status.errors.0.code=131053", "status.failure.reason=media_upload_error",
		"status.errors.0.details=Unsupported Video mime type text/html. Please use one of video/3gpp, video/mp4."}},
	{"status_failed_131053_minimal.json", "", "message.status", []string{
		"status.current=failed", "status.message_id=amid.ID", "status.errors.0.title=ERROR_TITLE", "status.errors.0.details=<nil>"}},
	{"status_payment_captured.json", "", "payment.status", []string{
		"payment.message_id=wamid.HBgMOTXXXXXXXXXXE5NDA3IAEhgKMzExMjYzOTAyMgA=", "payment.status=captured",
		"payment.reference_id=SampleMSIL1102", "payment.amount.value=450", "payment.amount.offset=100", "payment.currency=INR",
		"payment.transaction.id=order_SdrcSSqobZ7voR", "payment.transaction.type=razorpay", "payment.transaction.status=success",
		"payment.transaction.created_at=" + utc(1746500000), "payment.transaction.updated_at=" + utc(1746500005),
		"payment.transaction.error=<nil>", "payment.raw.payment.receipt=", "payment.recipient=91XXXXXXXXXX",
		"payment.at=" + utc(1746500005), "occurred_at=" + utc(1746500005), "contact.wa_id=91XXXXXXXXXX",
		"phone_number_id=106540352242922", "waba_id=102290129340398", "status=<nil>"}},
	{"status_payment_pending.json", "", "payment.status", []string{
		"payment.status=pending", "payment.amount.value=21000", "payment.transaction.status=pending",
		"payment.transaction.method=upi", "status=<nil>"}},
	{"status_payment_failed.json", "", "payment.status", []string{
		"payment.status=failed", "payment.transaction.status=failed", "payment.transaction.error.code=<ERROR_CODE>",
		"payment.transaction.error.reason=<ERROR_REASON>", "payment.at=" + utc(1746500030), "status=<nil>"}},
	{"status_payment_failed_minimal.json", "", "payment.status", []string{
		"payment.status=failed", "payment.message_id=ABMAAQVBAXmFlQ", "payment.reference_id=your-reference-id",
		"payment.recipient=12137725260", "payment.amount=<nil>", "payment.transaction=<nil>",
		"payment.raw.payment.sender=12137725260", "contact.wa_id=12137725260", "status=<nil>"}},
	{"status_played.json", "", "message.status", []string{"status.current=played", "status.timestamps.played=" + utc(1689380458)}},
	{"status_read.json", "wamid.xyzxyz", "message.status", []string{
		"status.current=read", "status.previous=accepted", "status.external=<nil>", "status.job_id=job-wamid.xyzxyz", "status.client_ref=crm-wamid.xyzxyz",
		"status.timestamps.accepted=" + utc(now.Unix()-1)}},
	{"status_read_bindambc.json", "", "message.status", []string{"status.current=read", "contact.wa_id=1111111111111", "status.pricing=<nil>"}},
	{"status_read_group.json", "", "message.status", []string{
		"status.current=read", "status.recipient=fowefinoewcnw", "status.recipient_type=group",
		"status.participant=<GROUP_PARTICIPANT_USER_PHONE_NUMBER>", "contact.wa_id=fowefinoewcnw"}},
	{"status_sent.json", "wamid.xyzxyz", "message.status", []string{
		"status.current=sent", "status.previous=accepted", "status.job_id=job-wamid.xyzxyz",
		"status.conversation.expires_at=" + utc(1698339900)}},
	{"status_sent_biz_opaque_callback_data.json", "", "message.status", []string{
		"status.current=sent", "status.biz_opaque_callback_data=some data"}},
	{"status_sent_cbp_business_initiated.json", "", "message.status", []string{
		"status.current=sent", "status.pricing.category=business_initiated", "status.conversation.origin_type=business_initiated"}},
	{"status_sent_pmp_v25.json", "", "message.status", []string{
		"status.current=sent", "status.pricing.pricing_model=PMP", "status.pricing.type=regular", "status.pricing.category=marketing"}},

	{"account_review_update.json", "", "account.account_review_update", []string{
		"account.field=account_review_update", "account.event=APPROVED", "account.value.decision=APPROVED",
		"waba_id=whatsapp-business-account-id", "contact=<nil>"}},
	{"account_update_account_restriction.json", "", "account.account_update", []string{
		"account.event=ACCOUNT_RESTRICTION", "account.account_update.restrictions.0.type=RESTRICTED_BIZ_INITIATED_MESSAGING",
		"account.account_update.restrictions.0.expiration=" + utc(1641330498),
		"account.account_update.restrictions.1.type=RESTRICTED_ADD_PHONE_NUMBER_ACTION"}},
	{"account_update_account_violation.json", "", "account.account_update", []string{
		"account.event=ACCOUNT_VIOLATION", "account.account_update.violation_type=ADULT"}},
	{"account_update_disabled_update.json", "", "account.account_update", []string{
		"account.event=DISABLED_UPDATE", "account.account_update.ban_state=REINSTATE", "account.account_update.ban_date=April 17, 2025"}},
	{"account_update_partner_added.json", "", "account.account_update", []string{
		"account.event=PARTNER_ADDED", "account.account_update.waba.waba_id=980198427658004",
		"account.account_update.waba.owner_business_id=2329417887457253", "account.account_update.waba.solution_id=1715120619246906",
		"account.account_update.waba.solution_partner_business_ids.1=520744086200222"}},
	{"account_update_restriction_placeholders.json", "", "account.account_update", []string{
		"account.account_update.phone_number=<PHONE_NUMBER>", "account.account_update.restrictions.2.type=RESTRICTED_CUSTOMER_INITIATED_MESSAGING",
		"account.account_update.restrictions.2.expiration=<TIMESTAMP>", "phone_number_id="}},
	{"account_update_verified_account.json", "", "account.account_update", []string{
		"account.event=VERIFIED_ACCOUNT", "account.account_update.phone_number=1111111111111", "phone_number_id="}},
	{"account_update_volume_tier_update.json", "", "account.account_update", []string{
		"account.event=VOLUME_BASED_PRICING_TIER_UPDATE", "account.account_update.volume_tier.tier=25000001:50000000",
		"account.account_update.volume_tier.pricing_category=UTILITY", "account.account_update.volume_tier.effective_month=2025-11",
		"account.account_update.volume_tier.region=India", "occurred_at=" + utc(1743451903)}},
	{"message_template_quality_update.json", "", "account.message_template_quality_update", []string{
		"account.template.id=806312974732579", "account.template.name=welcome_template", "account.template.language=en_US",
		"account.template.previous_quality=GREEN", "account.template.new_quality=YELLOW"}},
	{"template_category_update.json", "", "account.template_category_update", []string{
		"account.template.id=12345678", "account.template.name=my_message_template", "account.template.language=he",
		"account.template.new_category=MARKETING"}},
	{"message_template_status_update_approved.json", "", "account.message_template_status_update", []string{
		"account.event=APPROVED", "account.template.id=1689556908129832", "account.template.name=order_confirmation",
		"account.template.category=UTILITY", "account.template.reason=<nil>", "account.value.reason=NONE"}},
	{"message_template_status_update_flagged_disable_info.json", "", "account.message_template_status_update", []string{
		"account.event=FLAGGED", "account.template.disable_date=January 31, 2021", "account.template.language=en-US"}},
	{"message_template_status_update_rejected_invalid_format.json", "", "account.message_template_status_update", []string{
		"account.event=REJECTED", "account.template.reason=INVALID_FORMAT", "account.template.category=MARKETING",
		"account.template.rejection_recommendation=Separate parameters with descriptive text and ensure each parameter is clearly contextualized."}},
	{"message_template_status_update_rejected_scam.json", "", "account.message_template_status_update", []string{
		"account.event=REJECTED", "account.template.reason=SCAM", "account.template.id=905507062668800"}},
	{"phone_number_name_update.json", "", "account.phone_number_name_update", []string{
		"account.event=APPROVED", "account.phone_number.requested_verified_name=WhatsApp",
		"account.phone_number.display_phone_number=16505551111", "account.phone_number.phone_number_id=300000000000002",
		"phone_number_id=300000000000002", "account.phone_number.rejection_reason=<nil>"}},
	{"phone_number_quality_update.json", "", "account.phone_number_quality_update", []string{
		"account.event=FLAGGED", "account.phone_number.current_limit=TIER_10K", "account.phone_number.throughput=<nil>",
		"phone_number_id=300000000000002"}},
	{"phone_number_quality_update_throughput_upgrade.json", "", "account.phone_number_quality_update", []string{
		"account.event=THROUGHPUT_UPGRADE", "account.phone_number.throughput=1000", "account.phone_number.current_limit=TIER_UNLIMITED",
		"account.phone_number.phone_number_id=106540352242922", "phone_number_id=106540352242922"}},
	{"template_category_update.json", "", "account.template_category_update", []string{
		"account.template.id=12345678", "account.template.new_category=MARKETING", "account.template.language=he"}},
	{"user_preferences_marketing_resume.json", "", "account.user_preferences", []string{
		"account.event=resume", "account.user_preference.wa_id=16505551234", "account.user_preference.category=marketing_messages",
		"account.user_preference.value=resume", "account.user_preference.detail=User requested to resume marketing messages",
		"contact.wa_id=16505551234", "phone_number_id=106540352242922", "occurred_at=" + utc(1731705721)}},
}

// lookup follows a dot path through decoded JSON; "<nil>" when absent.
func lookup(v any, path string) string {
	for _, seg := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			v = x[seg]
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i >= len(x) {
				return "<nil>"
			}
			v = x[i]
		default:
			return "<nil>"
		}
	}
	if f, ok := v.(float64); ok {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}

func TestReferencePayloads(t *testing.T) {
	files, err := filepath.Glob("testdata/webhooks/*.json")
	if err != nil {
		t.Fatal(err)
	}
	covered := map[string]bool{}
	for _, c := range referenceCases {
		covered[c.file] = true
	}
	for _, f := range files {
		if !covered[filepath.Base(f)] {
			t.Errorf("%s has no case in referenceCases", f)
		}
	}
	for _, c := range referenceCases {
		t.Run(strings.TrimSuffix(c.file, ".json"), func(t *testing.T) {
			e := newEnv(t)
			ctx := context.Background()
			// The number is registered for the tenant, so Meta's display number
			// resolves to its id (the reference samples use two display numbers).
			if err := e.registry.Put(ctx, tenant.Tenant{ID: "acme", SecretID: "wacloud/tenants/acme"}, []tenant.Number{
				{PhoneNumberID: "106540352242922", WABAID: "102290129340398", DisplayPhoneNumber: "+1 555-078-3881"},
				{PhoneNumberID: "300000000000002", WABAID: "waba-id", DisplayPhoneNumber: "16505551111"},
			}); err != nil {
				t.Fatal(err)
			}
			body, err := os.ReadFile(filepath.Join("testdata/webhooks", c.file))
			if err != nil {
				t.Fatal(err)
			}
			units, err := whatsapp.Split(body)
			if err != nil {
				t.Fatal(err)
			}
			if c.accept != "" {
				e.accept(t, c.accept)
			}
			for _, u := range units {
				u.TenantID = "acme"
				u.ReceivedAt = now.Format(time.RFC3339Nano)
				u.Route = whatsapp.RoutePlatform
				if c.accept != "" {
					// The record accept() wrote names number 100.
					u.Metadata.PhoneNumberID = "100"
				}
				if err := e.h.ProcessUnit(ctx, u); err != nil {
					t.Fatalf("unit %d (%s/%s): %v", u.Seq, u.Kind, u.Field, err)
				}
			}
			evs := e.events(t)
			if len(evs) != 1 {
				t.Fatalf("%d events, want 1", len(evs))
			}
			ev := evs[0]
			if ev.Type != c.typ {
				t.Errorf("type %q, want %q", ev.Type, c.typ)
			}
			b, _ := json.Marshal(ev)
			var doc any
			_ = json.Unmarshal(b, &doc)
			for _, chk := range c.checks {
				path, want, _ := strings.Cut(chk, "=")
				if got := lookup(doc, path); got != want {
					t.Errorf("%s = %q, want %q", path, got, want)
				}
			}
			// Reprocessing the same payload yields the same event id and no new
			// status event (account events are deduplicated downstream by id).
			for _, u := range units {
				u.TenantID = "acme"
				u.ReceivedAt = now.Add(time.Minute).Format(time.RFC3339Nano)
				if c.accept != "" {
					u.Metadata.PhoneNumberID = "100"
				}
				if err := e.h.ProcessUnit(ctx, u); err != nil {
					t.Fatal(err)
				}
			}
			for _, again := range e.events(t) {
				if again.EventID != ev.EventID {
					t.Errorf("redelivery gave event id %s, first %s", again.EventID, ev.EventID)
				}
				if again.Type == event.TypeStatusUpdated {
					t.Errorf("a duplicate status emitted %s again", again.Status.Current)
				}
			}
		})
	}
}

func TestReferenceSideEffects(t *testing.T) {
	ctx := context.Background()
	process := func(t *testing.T, e *env, file string) {
		t.Helper()
		body, err := os.ReadFile(filepath.Join("testdata/webhooks", file))
		if err != nil {
			t.Fatal(err)
		}
		units, err := whatsapp.Split(body)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range units {
			u.TenantID = "acme"
			if err := e.h.ProcessUnit(ctx, u); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Run("throughput upgrade raises the number's limit", func(t *testing.T) {
		e := newEnv(t)
		if err := e.registry.Put(ctx, tenant.Tenant{ID: "acme"}, []tenant.Number{
			{PhoneNumberID: "106540352242922", WABAID: "102290129340398", DisplayPhoneNumber: "15550783881"},
			{PhoneNumberID: "300000000000002", WABAID: "102290129340398", DisplayPhoneNumber: "16505551111"},
		}); err != nil {
			t.Fatal(err)
		}
		process(t, e, "phone_number_quality_update_throughput_upgrade.json")
		fresh := &tenant.Registry{API: e.registry.API, Table: e.registry.Table}
		n, err := fresh.Number(ctx, "106540352242922")
		if err != nil {
			t.Fatal(err)
		}
		if n.Limit() != 1000 {
			t.Errorf("throughput %d, want 1000", n.Limit())
		}
		other, _ := fresh.Number(ctx, "300000000000002")
		if other.Limit() != tenant.DefaultThroughput {
			t.Errorf("another number's throughput changed to %d", other.Limit())
		}
	})
	t.Run("a quality flag leaves the throughput alone", func(t *testing.T) {
		e := newEnv(t)
		if err := e.registry.Put(ctx, tenant.Tenant{ID: "acme"}, []tenant.Number{
			{PhoneNumberID: "300000000000002", WABAID: "waba-id", DisplayPhoneNumber: "16505551111", Throughput: 80},
		}); err != nil {
			t.Fatal(err)
		}
		process(t, e, "phone_number_quality_update.json")
		n, _ := (&tenant.Registry{API: e.registry.API, Table: e.registry.Table}).Number(ctx, "300000000000002")
		if n.Limit() != 80 {
			t.Errorf("throughput %d, want 80", n.Limit())
		}
	})
	t.Run("throughput upgrade of an unregistered number is still reported", func(t *testing.T) {
		e := newEnv(t)
		if err := e.registry.Put(ctx, tenant.Tenant{ID: "acme"}, nil); err != nil {
			t.Fatal(err)
		}
		process(t, e, "phone_number_quality_update_throughput_upgrade.json")
		if evs := e.events(t); len(evs) != 1 || evs[0].Account.PhoneNumber.Throughput != 1000 {
			t.Errorf("events %+v", evs)
		}
	})
	t.Run("quality updates keep the messaging limit tier", func(t *testing.T) {
		e := newEnv(t)
		if err := e.registry.Put(ctx, tenant.Tenant{ID: "acme"}, []tenant.Number{
			{PhoneNumberID: "300000000000002", WABAID: "waba-id", DisplayPhoneNumber: "16505551111"},
			{PhoneNumberID: "106540352242922", WABAID: "102290129340398", DisplayPhoneNumber: "15550783881"},
		}); err != nil {
			t.Fatal(err)
		}
		process(t, e, "phone_number_quality_update.json")                    // FLAGGED, TIER_10K
		process(t, e, "phone_number_quality_update_throughput_upgrade.json") // TIER_UNLIMITED
		limits := &msglimit.Store{API: dynamodb.NewFromConfig(e.cfg), Table: e.windows.Table}
		for _, tt := range []struct{ waba, tier string }{{"waba-id", "TIER_10K"}, {"102290129340398", "TIER_UNLIMITED"}} {
			st, err := limits.State(ctx, tt.waba, now)
			if err != nil {
				t.Fatal(err)
			}
			if st.Tier != tt.tier {
				t.Errorf("WABA %s tier %q, want %q", tt.waba, st.Tier, tt.tier)
			}
		}
	})
	t.Run("quality updates keep the number's health", func(t *testing.T) {
		e := newEnv(t)
		if err := e.registry.Put(ctx, tenant.Tenant{ID: "acme"}, []tenant.Number{
			{PhoneNumberID: "300000000000002", WABAID: "waba-id", DisplayPhoneNumber: "16505551111"},
		}); err != nil {
			t.Fatal(err)
		}
		limits := &msglimit.Store{API: dynamodb.NewFromConfig(e.cfg), Table: e.windows.Table}
		flagged, err := os.ReadFile("testdata/webhooks/phone_number_quality_update.json")
		if err != nil {
			t.Fatal(err)
		}
		// Meta's payload at another time (it comes first), with another event.
		later := strings.NewReplacer(`"FLAGGED"`, `"%s"`, "1608243062", "%d")
		tests := []struct {
			name    string
			payload []byte
			status  string
			paused  bool
		}{
			{"FLAGGED pauses", flagged, "FLAGGED", true},
			{"an older UPGRADE changes nothing", []byte(fmt.Sprintf(later.Replace(string(flagged)), 1608243062-60, "UPGRADE")), "FLAGGED", true},
			{"UNFLAGGED ends it", []byte(fmt.Sprintf(later.Replace(string(flagged)), 1608243062+3600, "UNFLAGGED")), "UNFLAGGED", false},
			{"THROUGHPUT_UPGRADE is not health", []byte(fmt.Sprintf(later.Replace(string(flagged)), 1608243062+7200, "THROUGHPUT_UPGRADE")), "UNFLAGGED", false},
		}
		for _, tt := range tests {
			units, err := whatsapp.Split(tt.payload)
			if err != nil {
				t.Fatal(err)
			}
			for _, u := range units {
				u.TenantID = "acme"
				if err := e.h.ProcessUnit(ctx, u); err != nil {
					t.Fatal(err)
				}
			}
			h, err := limits.Health(ctx, "300000000000002")
			if err != nil {
				t.Fatal(err)
			}
			if h.Status != tt.status || h.Paused() != tt.paused {
				t.Errorf("%s: health %+v (paused %v), want status %s paused %v", tt.name, h, h.Paused(), tt.status, tt.paused)
			}
		}
	})
	t.Run("131047 closes the contact's window", func(t *testing.T) {
		e := newEnv(t)
		// The contact wrote before the failure (1222493493 is Meta's timestamp).
		if err := e.windows.RecordInbound(ctx, "15555559999", "15555558888", time.Unix(1222493493-3600, 0)); err != nil {
			t.Fatal(err)
		}
		process(t, e, "status_failed_131047_reengagement.json")
		st, err := e.windows.Get(ctx, "15555559999", "15555558888")
		if err != nil {
			t.Fatal(err)
		}
		if !st.ClosedAt.Equal(time.Unix(1222493493, 0)) || st.Open(time.Unix(1222493493+60, 0)) {
			t.Errorf("window %+v still open after 131047", st)
		}
	})
}

// A template approved, paused and approved again sends two identical
// APPROVED changes that differ only in entry.time: both must reach the core,
// while a redelivery of either must keep its id.
func TestRepeatedAccountChangeKeepsDistinctIDs(t *testing.T) {
	ctx := context.Background()
	body, err := os.ReadFile("testdata/webhooks/message_template_status_update_approved.json")
	if err != nil {
		t.Fatal(err)
	}
	units, err := whatsapp.Split(body)
	if err != nil {
		t.Fatal(err)
	}
	if len(units) != 1 || units[0].EntryTime == 0 {
		t.Fatalf("want one unit with entry time, got %+v", units)
	}
	first := units[0]
	first.TenantID = "acme"
	later := first
	later.EntryTime += 3600

	e := newEnv(t)
	for _, u := range []whatsapp.Unit{first, first, later} {
		if err := e.h.ProcessUnit(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	ids := map[string]int{}
	for _, ev := range e.events(t) {
		ids[ev.EventID]++
	}
	if len(ids) != 2 {
		t.Fatalf("distinct event ids = %d (%v), want 2: one per change, the redelivery sharing its id", len(ids), ids)
	}
}

// Two tenants receiving the same account change (Meta's samples reuse
// placeholder WABA ids) get two event ids.
func TestAccountEventIDsScopedByTenant(t *testing.T) {
	ctx := context.Background()
	body, err := os.ReadFile("testdata/webhooks/message_template_status_update_approved.json")
	if err != nil {
		t.Fatal(err)
	}
	units, err := whatsapp.Split(body)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	for _, tn := range []string{"acme", "globex"} {
		u := units[0]
		u.TenantID = tn
		if err := e.h.ProcessUnit(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	evs := e.events(t)
	if len(evs) != 2 || evs[0].EventID == evs[1].EventID {
		t.Fatalf("events %d, ids %v: want two distinct ids", len(evs), evs)
	}
}

// A payment status of an order-details message this system sent is a
// payment.status event; the message's delivery record and its
// message.status events are untouched (a failed payment is not a failed
// message, a captured one is not lost).
func TestPaymentStatusLeavesMessageAlone(t *testing.T) {
	ctx := context.Background()
	for _, file := range []string{"status_payment_captured.json", "status_payment_pending.json", "status_payment_failed.json"} {
		t.Run(strings.TrimSuffix(file, ".json"), func(t *testing.T) {
			e := newEnv(t)
			body, err := os.ReadFile(filepath.Join("testdata/webhooks", file))
			if err != nil {
				t.Fatal(err)
			}
			units, err := whatsapp.Split(body)
			if err != nil {
				t.Fatal(err)
			}
			it, err := event.ParsePaymentStatus(units[0].Item)
			if err != nil {
				t.Fatal(err)
			}
			e.accept(t, it.MessageID)
			for _, u := range units {
				u.TenantID = "acme"
				u.Metadata.PhoneNumberID = "100" // the number accept() recorded
				if err := e.h.ProcessUnit(ctx, u); err != nil {
					t.Fatal(err)
				}
			}
			m, err := e.store.Get(ctx, it.MessageID)
			if err != nil {
				t.Fatal(err)
			}
			if m.Status != event.StatusAccepted || len(m.StatusAt) != 1 || len(m.Errors) != 0 {
				t.Errorf("record after a %s payment: status %q, states %v, errors %v; want accepted and untouched", it.Status, m.Status, m.StatusAt, m.Errors)
			}
			var types []string
			for _, ev := range e.events(t) {
				types = append(types, ev.Type)
				if ev.Type == event.TypePaymentStatus && (ev.Payment.Status != it.Status || ev.OrderKey() != "acme:100:91XXXXXXXXXX") {
					t.Errorf("payment event %+v in group %s", ev.Payment, ev.OrderKey())
				}
			}
			if fmt.Sprint(types) != "[payment.status]" {
				t.Errorf("events %v, want [payment.status]", types)
			}
		})
	}
}
