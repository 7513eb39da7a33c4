package main

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/tucanlink/wacloud/shared/campaign/tally"
	"github.com/tucanlink/wacloud/shared/onboard"
	"github.com/tucanlink/wacloud/shared/tenant"
)

// owner is the tenant a number belongs to, "" when it is not registered.
func (e *env) owner(t *testing.T, pn string) string {
	t.Helper()
	n, err := e.registry().Number(e.ctx, pn)
	if errors.Is(err, tenant.ErrNotFound) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return n.TenantID
}

func TestNumberCommands(t *testing.T) {
	e := newEnv(t)
	acme, beta := uniq("acme"), uniq("beta")
	pn1, pn2, pn3, pn4 := uniqDigits(), uniqDigits(), uniqDigits(), uniqDigits()
	wabaA, wabaB, wabaC := uniqDigits(), uniqDigits(), uniqDigits()
	e.mustRun("", "tenant", "add", "--id", acme, "--phone-number-id", pn1, "--phone-number-id", pn2, "--waba-id", wabaA, "--access-token", "a")
	e.mustRun("", "tenant", "add", "--id", beta, "--phone-number-id", pn4, "--waba-id", wabaC, "--access-token", "b")
	if err := e.registry().Put(e.ctx, tenant.Tenant{ID: acme, SecretID: "wacloud/tenants/" + acme}, []tenant.Number{
		{PhoneNumberID: pn1, WABAID: wabaA}, {PhoneNumberID: pn2, WABAID: wabaA}, {PhoneNumberID: pn3, WABAID: wabaB},
	}); err != nil {
		t.Fatal(err)
	}

	steps := []struct {
		name  string
		args  []string
		code  int
		owner map[string]string
	}{
		{"remove asks first", []string{"number", "remove", "--phone-number-id", pn3}, 1,
			map[string]string{pn1: acme, pn2: acme, pn3: acme, pn4: beta}},
		{"remove checks the tenant", []string{"number", "remove", "--phone-number-id", pn3, "--tenant", beta, "--yes"}, 1,
			map[string]string{pn3: acme}},
		{"move one number of a shared WABA", []string{"number", "move", "--phone-number-id", pn1, "--to", beta, "--yes"}, 1,
			map[string]string{pn1: acme, pn2: acme}},
		{"move to an unknown tenant", []string{"number", "move", "--phone-number-id", pn1, "--phone-number-id", pn2, "--to", "nobody", "--yes"}, 1,
			map[string]string{pn1: acme, pn2: acme}},
		{"move without --to", []string{"number", "move", "--phone-number-id", pn1}, 2,
			map[string]string{pn1: acme}},
		{"remove", []string{"number", "remove", "--phone-number-id", pn3, "--yes"}, 0,
			map[string]string{pn1: acme, pn2: acme, pn3: "", pn4: beta}},
		{"move a WABA's numbers", []string{"number", "move", "--phone-number-id", pn1, "--phone-number-id", pn2, "--to", beta, "--yes"}, 0,
			map[string]string{pn1: beta, pn2: beta, pn3: "", pn4: beta}},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			code, out, errb := e.run("n\n", s.args...)
			if code != s.code {
				t.Fatalf("exit %d, want %d\n%s%s", code, s.code, out, errb)
			}
			for pn, want := range s.owner {
				if got := e.owner(t, pn); got != want {
					t.Errorf("number %s belongs to %q, want %q", pn, got, want)
				}
			}
		})
	}
	if tn, err := e.registry().Tenant(e.ctx, acme); err != nil || len(tn.PhoneNumbers) != 0 || len(tn.WABAIDs) != 0 {
		t.Errorf("acme after the moves = %+v, %v; want no numbers or WABAs", tn, err)
	}
	if id, err := e.registry().TenantOfWABA(e.ctx, wabaA); err != nil || id != beta {
		t.Errorf("WABA %s belongs to %q, %v; want %s", wabaA, id, err, beta)
	}
}

// tenant delete --purge deletes the tenant's stored data and only its own.
func TestTenantDeletePurge(t *testing.T) {
	e := newEnv(t)
	gone, stays := uniq("gone"), uniq("stays")
	pnGone, pnStays := uniqDigits(), uniqDigits()
	wabaGone, wabaStays := uniqDigits(), uniqDigits()
	e.mustRun("", "tenant", "add", "--id", gone, "--phone-number-id", pnGone, "--waba-id", wabaGone, "--access-token", "a")
	e.mustRun("", "tenant", "add", "--id", stays, "--phone-number-id", pnStays, "--waba-id", wabaStays, "--access-token", "b")

	bucket := e.st.Names.Ref["DataBucket"]
	s3c := s3.NewFromConfig(e.emu.Config(), func(o *s3.Options) { o.UsePathStyle = true })
	objects := map[string]bool{ // key → must survive
		"tenants/" + gone + "/media/2026/12/05/wamid.1.jpg":  false,
		"tenants/" + gone + "/outbound/catalog.pdf":          false,
		"tenants/" + stays + "/media/2026/12/05/wamid.2.jpg": true,
	}
	for key := range objects {
		for _, body := range []string{"v1", "v2"} { // two versions each
			if _, err := s3c.PutObject(e.ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader(body)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	ddb := dynamodb.NewFromConfig(e.emu.Config())
	s := func(v string) ddbtypes.AttributeValue { return &ddbtypes.AttributeValueMemberS{Value: v} }
	items := []struct {
		table, pk, tenant string
		survives          bool
	}{
		{"MessagesTable", "msg#wamid.gone-" + gone, gone, false},
		{"MessagesTable", "jobref#job-" + gone, gone, false},
		{"MessagesTable", "msg#wamid.stays-" + stays, stays, true},
		{"StateTable", "job#job-" + gone, gone, false},
		{"StateTable", "window#" + pnGone + "#5511999990001", "", false},
		{"StateTable", "rate#num#" + pnGone, "", false},
		{"StateTable", "rate#pair#" + pnGone + "#5511999990001", "", false},
		{"StateTable", "window#" + pnStays + "#5511999990001", "", true},
		{"StateTable", "job#job-" + stays, stays, true},
		// Campaign recipient claims, identities, a number's health, a
		// WABA's messaging-limit count and its recipients: no tenant_id.
		{"StateTable", "campaign#" + gone + "#cmp_1#5511999990001", "", false},
		{"StateTable", "campaign#" + stays + "#cmp_1#5511999990001", "", true},
		{"StateTable", "contact#" + gone + "#" + pnGone + "#5511999990001", "", false},
		{"StateTable", "contact#" + stays + "#" + pnStays + "#5511999990001", "", true},
		{"StateTable", "msglimit#n#" + pnGone, "", false},
		{"StateTable", "msglimit#p#" + wabaGone, "", false},
		{"StateTable", "msglimit#r#" + wabaGone + "#5511999990001", "", false},
		{"StateTable", "msglimit#p#" + wabaStays, "", true},
		{"StateTable", "msglimit#r#" + wabaStays + "#5511999990001", "", true},
	}
	for _, it := range items {
		item := map[string]ddbtypes.AttributeValue{"pk": s(it.pk)}
		if it.tenant != "" {
			item["tenant_id"] = s(it.tenant)
		}
		if _, err := ddb.PutItem(e.ctx, &dynamodb.PutItemInput{TableName: aws.String(e.st.Names.Ref[it.table]), Item: item}); err != nil {
			t.Fatal(err)
		}
	}
	// Tables keyed by the tenant's partition: a suppression, a template,
	// a campaign and one of its count shards (a partition key of its own).
	shard := func(tenantID string) map[string]ddbtypes.AttributeValue { return tally.Key(tenantID, "cmp_1", 7) }
	keyed := []struct {
		table    string
		key      map[string]ddbtypes.AttributeValue
		survives bool
	}{
		{"SuppressionsTable", map[string]ddbtypes.AttributeValue{"pk": s("tenant#" + gone), "sk": s("5511999990001")}, false},
		{"SuppressionsTable", map[string]ddbtypes.AttributeValue{"pk": s("tenant#" + stays), "sk": s("5511999990001")}, true},
		{"TemplatesTable", map[string]ddbtypes.AttributeValue{"pk": s("tenant#" + gone), "sk": s(wabaGone + "#hello#en_US")}, false},
		{"TemplatesTable", map[string]ddbtypes.AttributeValue{"pk": s("tenant#" + stays), "sk": s(wabaStays + "#hello#en_US")}, true},
		{"CampaignsTable", map[string]ddbtypes.AttributeValue{"pk": s("tenant#" + gone), "sk": s("campaign#cmp_1")}, false},
		{"CampaignsTable", shard(gone), false},
		{"CampaignsTable", map[string]ddbtypes.AttributeValue{"pk": s("tenant#" + stays), "sk": s("campaign#cmp_1")}, true},
		{"CampaignsTable", shard(stays), true},
	}
	for _, it := range keyed {
		if _, err := ddb.PutItem(e.ctx, &dynamodb.PutItemInput{TableName: aws.String(e.st.Names.Ref[it.table]), Item: it.key}); err != nil {
			t.Fatal(err)
		}
	}

	// The PIN onboarding registered its number with goes with it.
	sm := secretsmanager.NewFromConfig(e.emu.Config())
	pinID := onboard.PINSecretID("wacloud/tenants/", gone)
	if _, err := sm.CreateSecret(e.ctx, &secretsmanager.CreateSecretInput{Name: aws.String(pinID), SecretString: aws.String(`{"pin":"123456"}`)}); err != nil {
		t.Fatal(err)
	}

	out := e.mustRun("", "tenant", "delete", "--id", gone, "--purge", "--yes")
	if _, found, err := tenant.ReadSecret(e.ctx, sm, pinID); err != nil || found {
		t.Errorf("PIN secret %s: found=%v err=%v after the delete, want deleted\n%s", pinID, found, err, out)
	}

	for key, survives := range objects {
		v, err := s3c.ListObjectVersions(e.ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(bucket), Prefix: aws.String(key)})
		if err != nil {
			t.Fatal(err)
		}
		left := len(v.Versions) + len(v.DeleteMarkers)
		if survives && len(v.Versions) != 2 || !survives && left != 0 {
			t.Errorf("s3 %s: %d version(s) and %d delete marker(s) left, survives=%v\n%s", key, len(v.Versions), len(v.DeleteMarkers), survives, out)
		}
	}
	for _, it := range items {
		got, err := ddb.GetItem(e.ctx, &dynamodb.GetItemInput{TableName: aws.String(e.st.Names.Ref[it.table]),
			Key: map[string]ddbtypes.AttributeValue{"pk": s(it.pk)}, ConsistentRead: aws.Bool(true)})
		if err != nil {
			t.Fatal(err)
		}
		if (got.Item != nil) != it.survives {
			t.Errorf("%s %s: present=%v, want %v", it.table, it.pk, got.Item != nil, it.survives)
		}
	}
	for _, it := range keyed {
		got, err := ddb.GetItem(e.ctx, &dynamodb.GetItemInput{TableName: aws.String(e.st.Names.Ref[it.table]), Key: it.key, ConsistentRead: aws.Bool(true)})
		if err != nil {
			t.Fatal(err)
		}
		if (got.Item != nil) != it.survives {
			t.Errorf("%s %v: present=%v, want %v\n%s", it.table, it.key, got.Item != nil, it.survives, out)
		}
	}
	if code, _, _ := e.run("", "tenant", "purge", "--id", stays, "--yes"); code != 1 {
		t.Errorf("purge of a registered tenant: exit %d, want 1", code)
	}
	if code, _, _ := e.run("", "tenant", "purge", "--id", gone, "--waba-id", wabaStays, "--yes"); code != 1 {
		t.Errorf("purge naming another tenant's WABA: exit %d, want 1", code)
	}
	e.mustRun("", "tenant", "purge", "--id", gone, "--phone-number-id", pnGone, "--waba-id", wabaGone, "--yes") // again: nothing left, no error
}

// phoneNumberServer answers GET /v23.0/{id} with the testdata file its
// map names, for the token "good-token" only.
func phoneNumberServer(t *testing.T, files map[string]string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Header.Get("Authorization") != "Bearer good-token" {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":{"message":"Invalid OAuth access token - Cannot parse access token","type":"OAuthException","code":190,"fbtrace_id":"A1"}}`))
			return
		}
		b, err := os.ReadFile(filepath.Join("testdata", files[strings.TrimPrefix(r.URL.Path, "/v23.0/")]))
		if err != nil {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		_, _ = w.Write(b)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// Throughput goes down as well as up, and a number shared with the
// WhatsApp Business app is paced at 20/s: set by hand or read from Meta.
func TestNumberThroughputCommands(t *testing.T) {
	e := newEnv(t)
	acme := uniq("acme")
	pn1, pn2, waba := uniqDigits(), uniqDigits(), uniqDigits()
	e.mustRun("", "tenant", "add", "--id", acme, "--phone-number-id", pn1, "--phone-number-id", pn2, "--waba-id", waba,
		"--access-token", "good-token", "--throughput", "1000")
	g := phoneNumberServer(t, map[string]string{pn1: "phone_number_standard_on_biz_app.json", pn2: "phone_number_high.json"})
	number := func(t *testing.T, pn string) tenant.Number {
		t.Helper()
		n, err := e.registry().Number(e.ctx, pn)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	steps := []struct {
		name           string
		args           []string
		pn             string
		wantThroughput int
		wantBizApp     bool
		wantLimit      int
	}{
		{"sync: Meta lowered it and the number joined the Business app", []string{"number", "sync", "--phone-number-id", pn1, "--graph-url", g.URL}, pn1, 80, true, 20},
		{"sync: Meta says high, nothing to change", []string{"number", "sync", "--tenant", acme, "--graph-url", g.URL}, pn2, 1000, false, 1000},
		{"set: lower by hand", []string{"number", "set", "--phone-number-id", pn2, "--throughput", "80"}, pn2, 80, false, 80},
		{"set: off the Business app", []string{"number", "set", "--phone-number-id", pn1, "--on-biz-app", "false"}, pn1, 80, false, 80},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			e.mustRun("", s.args...)
			n := number(t, s.pn)
			if n.Throughput != s.wantThroughput || n.OnBizApp != s.wantBizApp || n.Limit() != s.wantLimit {
				t.Errorf("number = throughput %d, on biz app %v, limit %d; want %d, %v, %d",
					n.Throughput, n.OnBizApp, n.Limit(), s.wantThroughput, s.wantBizApp, s.wantLimit)
			}
		})
	}
	for _, args := range [][]string{
		{"number", "set", "--phone-number-id", pn1},
		{"number", "set", "--phone-number-id", pn1, "--on-biz-app", "yes"},
		{"number", "set", "--phone-number-id", pn1, "--throughput", "5000"},
		{"number", "sync"},
	} {
		if code, _, _ := e.run("", args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}
