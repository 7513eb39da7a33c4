package graphsim

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

type manualClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *manualClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *manualClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newSendSim(t *testing.T, throughput int) (*Sim, *httptest.Server, *manualClock) {
	t.Helper()
	clk := &manualClock{t: time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)}
	s := New(Config{Now: clk.Now, Numbers: []Number{{PhoneNumberID: "100", AccessToken: "tok-a", Throughput: throughput}}})
	s.SetStatusConfig(StatusConfig{Disabled: true})
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	t.Cleanup(s.Close)
	return s, srv, clk
}

type answer struct {
	status int
	Error  struct {
		Code    int    `json:"code"`
		Type    string `json:"type"`
		Message string `json:"message"`
		Data    struct {
			MessagingProduct string `json:"messaging_product"`
			Details          string `json:"details"`
		} `json:"error_data"`
	} `json:"error"`
	Messages []struct {
		ID string `json:"id"`
	} `json:"messages"`
	Success bool `json:"success"`
}

func send(t *testing.T, url, token, body string) answer {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url+"/v23.0/100/messages", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a answer
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &a); err != nil {
		t.Fatalf("answer %s: %v", raw, err)
	}
	a.status = resp.StatusCode
	return a
}

func text(to string) string {
	return `{"messaging_product":"whatsapp","recipient_type":"individual","to":"` + to + `","type":"text","text":{"body":"hi","preview_url":false}}`
}

// specPlaceholder matches the placeholders of the spec's examples:
// {{Recipient-Phone-Number}}, <http(s)://audio-url>, <IMAGE_OBJECT_ID>...
var specPlaceholder = regexp.MustCompile(`\{\{[A-Za-z-]+\}\}|<?http\(s\)://[a-z-]+>?|<[A-Za-z0-9_-]+>`)

// fillExample replaces an example's placeholders with values of the kind
// each stands for: the recipient, an https link, a header type, ids and
// texts.
func fillExample(raw []byte, to string) []byte {
	return specPlaceholder.ReplaceAllFunc(raw, func(m []byte) []byte {
		p := string(m)
		switch {
		case strings.HasPrefix(p, "{{Recipient"):
			return []byte(to)
		case strings.Contains(p, "http(s)://"):
			return []byte("https://example.com/" + strings.Trim(strings.TrimPrefix(strings.TrimPrefix(p, "<"), "http(s)://"), ">"))
		case p == "<HEADER_TYPE>":
			return []byte("text")
		}
		return []byte(strings.ToLower(strings.Trim(p, "<>{}")))
	})
}

// TestSpecExamplesAccepted sends every request example of
// POST /{Phone-Number-ID}/messages in Meta's spec, placeholders filled.
func TestSpecExamplesAccepted(t *testing.T) {
	names, err := specExampleNames()
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 50 {
		t.Fatalf("%d examples in the spec, want its 50", len(names))
	}
	sp, _ := loadSpec()
	_, srv, _ := newSendSim(t, 1000)
	for i, name := range names {
		t.Run(name, func(t *testing.T) {
			// One recipient per example keeps the pair limit out of the way.
			body := fillExample(sp.examples[name], fmt.Sprintf("55119999%05d", i))
			a := send(t, srv.URL, "tok-a", string(body))
			if a.status != 200 || (len(a.Messages) != 1 && !a.Success) {
				t.Errorf("status %d, code %d, %s %s\n%s", a.status, a.Error.Code, a.Error.Message, a.Error.Data.Details, body)
			}
		})
	}
}

// TestSpecIsMetas: the embedded spec is Meta's file, byte for byte.
func TestSpecIsMetas(t *testing.T) {
	sum := sha256.Sum256(specYAML)
	if got, want := hex.EncodeToString(sum[:]), "c7148d5e2aeff32f2effc3d3557795d7eddd07abf8b017c9e40e86bb3312c116"; got != want {
		t.Errorf("spec/business-messaging-api_v23.0.yaml sha256 %s, want Meta's %s (spec/SOURCES.md): patch in patches.go, not in the file", got, want)
	}
}

// TestSpecReadLiterallyRefusesEverything pins the composition bug the
// first patch fixes: without it, each of the spec's own examples is
// refused.
func TestSpecReadLiterallyRefusesEverything(t *testing.T) {
	doc, err := specDocument()
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource("spec.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("spec.json#/components/schemas/TextMessage")
	if err != nil {
		t.Fatal(err)
	}
	sp, _ := loadSpec()
	v, _ := jsonschema.UnmarshalJSON(bytes.NewReader(fillExample(sp.examples["Send Text Message"], "16505550001")))
	if err := sch.Validate(v); err == nil {
		t.Error("the unpatched TextMessage schema accepts Send Text Message: drop the composition patch?")
	}
}

const (
	msgInvalid = "(#131009) Parameter value is not valid"
	msgMissing = "(#131008) Required parameter is missing"
)

func TestInvalidRequestsRefused(t *testing.T) {
	msg := func(typ, obj string) string {
		return `{"messaging_product":"whatsapp","recipient_type":"individual","to":"16505550001","type":"` + typ + `","` + typ + `":` + obj + `}`
	}
	buttons := func(ids ...string) string {
		var bs []string
		for i, id := range ids {
			bs = append(bs, fmt.Sprintf(`{"type":"reply","reply":{"id":%q,"title":"Option %d"}}`, id, i))
		}
		return msg("interactive", `{"type":"button","body":{"text":"Pick"},"action":{"buttons":[`+strings.Join(bs, ",")+`]}}`)
	}
	rows := func(n int, prefix string) string {
		var rs []string
		for i := range n {
			rs = append(rs, fmt.Sprintf(`{"id":"%s%d","title":"Row %d"}`, prefix, i, i))
		}
		return `[` + strings.Join(rs, ",") + `]`
	}
	list := func(sections string) string {
		return msg("interactive", `{"type":"list","body":{"text":"Pick"},"action":{"button":"Options","sections":`+sections+`}}`)
	}
	template := func(components string) string {
		return msg("template", `{"name":"order_update","language":{"code":"pt_BR"},"components":`+components+`}`)
	}
	contact := func(birthday string) string {
		return msg("contacts", `[{"name":{"formatted_name":"Ana"},"birthday":`+birthday+`}]`)
	}
	tests := []struct {
		name, body       string
		code             int
		message, details string
	}{
		// Issue 15: the forms the spec lacks, patched in.
		{"address request without country", msg("interactive", `{"type":"address_message","body":{"text":"Where to?"},"action":{"name":"address_message","parameters":{"values":{"name":"Ana"}}}}`),
			100, "(#100) The parameter interactive['action']['parameters']['country'] is required.", ""},
		{"location request with parameters", msg("interactive", `{"type":"location_request_message","body":{"text":"Where?"},"action":{"name":"send_location","parameters":{"country":"IN"}}}`),
			100, "(#100) Unexpected key \"parameters\" on param \"interactive['action']\".", ""},
		{"carousel of 11 cards", template(`[{"type":"carousel","cards":[` + strings.TrimSuffix(strings.Repeat(`{"card_index":0,"components":[{"type":"body"}]},`, 11), ",") + `]}]`),
			131009, msgInvalid, "Invalid cards count. Max allowed cards: 10"},
		{"carousel card index twice", template(`[{"type":"carousel","cards":[{"card_index":0,"components":[{"type":"body"}]},{"card_index":0,"components":[{"type":"body"}]}]}]`),
			131009, msgInvalid, "template['components'][0]['cards'][1]: card_index 0 is not unique"},
		{"limited-time offer without expiry", template(`[{"type":"limited_time_offer","parameters":[{"type":"limited_time_offer","limited_time_offer":{}}]}]`),
			131008, msgMissing, "template['components'][0]['parameters'][0]['limited_time_offer']['expiration_time_ms'] is required"},
		// Issue 12 item 22: bodies Meta refuses.
		{"text of 4,097 characters", msg("text", `{"body":"`+strings.Repeat("a", 4097)+`"}`),
			100, "(#100) Param text['body'] must be at most 4096 characters long.", ""},
		{"duplicate reply-button ids", buttons("yes", "no", "yes"),
			131009, msgInvalid, `Duplicate button id "yes". Button ids must be unique.`},
		{"11 list rows across sections", list(`[{"title":"A","rows":` + rows(6, "a") + `},{"title":"B","rows":` + rows(5, "b") + `}]`),
			131009, msgInvalid, "Total row count exceed max allowed count: 10"},
		{"a section without title among several", list(`[{"title":"A","rows":` + rows(2, "a") + `},{"rows":` + rows(2, "b") + `}]`),
			131008, msgMissing, "sections: Section at index 1 requires a title when a message has more than one section"},
		{"caption of 1,025 characters", msg("image", `{"link":"https://example.com/a.jpg","caption":"`+strings.Repeat("c", 1025)+`"}`),
			100, "(#100) Param image['caption'] must be at most 1024 characters long.", ""},
		{"birthday not a date", contact(`"18/08/2012"`),
			100, `(#100) Param contacts[0]['birthday'] must be a date in the format YYYY-MM-DD - got "18/08/2012".`, ""},
		{"birthday on a day that does not exist", contact(`"2012-02-30"`),
			100, `(#100) Param contacts[0]['birthday'] must be a date in the format YYYY-MM-DD - got "2012-02-30".`, ""},
		{"button index 10", template(`[{"type":"button","sub_type":"quick_reply","index":10,"parameters":[{"type":"payload","payload":"p"}]}]`),
			100, "(#100) Param template['components'][0]['index'] must be an integer from 0 to 9 - got 10.", ""},
		{"button index a word", template(`[{"type":"button","sub_type":"url","index":"first","parameters":[{"type":"text","text":"x"}]}]`),
			100, `(#100) Param template['components'][0]['index'] must be an integer from 0 to 9 - got "first".`, ""},
		{"button index negative", template(`[{"type":"button","sub_type":"url","index":-1,"parameters":[{"type":"text","text":"x"}]}]`),
			100, "(#100) Param template['components'][0]['index'] must be an integer from 0 to 9 - got -1.", ""},
		{"s3 link in an image", msg("image", `{"link":"s3://bucket/tenants/acme/a.jpg"}`),
			100, "(#100) Param image['link'] must be a valid http or https URL.", ""},
		{"S3 link in capitals in a document", msg("document", `{"link":"S3://bucket/tenants/acme/a.pdf","filename":"a.pdf"}`),
			100, "(#100) Param document['link'] must be a valid http or https URL.", ""},
		{"s3 link in a template header parameter", template(`[{"type":"header","parameters":[{"type":"image","image":{"link":"s3://bucket/tenants/other/a.jpg"}}]}]`),
			100, "(#100) Param template['components'][0]['parameters'][0]['image']['link'] must be a valid http or https URL.", ""},
		{"s3 link in an interactive header", msg("interactive", `{"type":"button","header":{"type":"image","image":{"link":"s3://b/k.jpg"}},"body":{"text":"x"},"action":{"buttons":[{"type":"reply","reply":{"id":"a","title":"A"}}]}}`),
			100, "(#100) Param interactive['header']['image']['link'] must be a valid http or https URL.", ""},
		// Other refusals.
		{"not JSON", `{`, 100, "(#100) Invalid parameter", ""},
		{"no messaging_product", `{"to":"1","type":"text","text":{"body":"x"}}`, 100, "(#100) The parameter messaging_product is required.", ""},
		{"no to", `{"messaging_product":"whatsapp","type":"text","text":{"body":"x"}}`, 100, "(#100) The parameter to is required.", ""},
		{"type without its object", `{"messaging_product":"whatsapp","to":"1","type":"image","text":{"body":"x"}}`, 100, "(#100) The parameter image is required.", ""},
		{"text without body", msg("text", `{"preview_url":true}`), 100, "(#100) The parameter text['body'] is required.", ""},
		{"body not a string", msg("text", `{"body":12}`), 100, "(#100) Param text['body'] must be a string.", ""},
		{"unknown top-level field", `{"messaging_product":"whatsapp","to":"1","type":"text","text":{"body":"x"},"colour":"red"}`,
			100, `(#100) Unexpected key "colour" on param "message".`, ""},
		{"unknown text field", msg("text", `{"body":"x","bold":true}`), 100, `(#100) Unexpected key "bold" on param "text".`, ""},
		{"media id and link", msg("image", `{"id":"1","link":"https://x.example/a.jpg"}`), 100, "(#100) Param image must have either id or link, not both.", ""},
		{"media neither", msg("image", `{"caption":"x"}`), 100, "(#100) The parameter image['id'] is required.", ""},
		{"location without latitude", msg("location", `{"longitude":1}`), 100, "(#100) The parameter location['latitude'] is required.", ""},
		{"template without language", msg("template", `{"name":"x"}`), 100, "(#100) The parameter template['language'] is required.", ""},
		{"four reply buttons", buttons("a", "b", "c", "d"), 131009, msgInvalid, "Invalid buttons count. Min allowed buttons: 1, Max allowed buttons: 3"},
		{"button title 21", msg("interactive", `{"type":"button","body":{"text":"x"},"action":{"buttons":[{"type":"reply","reply":{"id":"a","title":"aaaaaaaaaaaaaaaaaaaaa"}}]}}`),
			100, "(#100) Param interactive['action']['buttons'][0]['reply']['title'] must be at most 20 characters long.", ""},
		{"duplicate button titles", msg("interactive", `{"type":"button","body":{"text":"x"},"action":{"buttons":[{"type":"reply","reply":{"id":"a","title":"Yes"}},{"type":"reply","reply":{"id":"b","title":"Yes"}}]}}`),
			131009, msgInvalid, `Duplicate button title "Yes". Button titles must be unique.`},
		{"11 rows in one section", list(`[{"title":"A","rows":` + rows(11, "a") + `}]`), 131009, msgInvalid, "Total row count exceed max allowed count: 10"},
		{"duplicate row ids across sections", list(`[{"title":"A","rows":` + rows(2, "x") + `},{"title":"B","rows":` + rows(2, "x") + `}]`),
			131009, msgInvalid, `Duplicate row id "x0". Row ids must be unique across all sections.`},
		{"reaction without emoji", msg("reaction", `{"message_id":"wamid.A"}`), 100, "(#100) The parameter reaction['emoji'] is required.", ""},
		{"read without message id", `{"messaging_product":"whatsapp","status":"read"}`, 100, "(#100) The parameter message_id is required.", ""},
		{"contact without name", msg("contacts", `[{"phones":[{"phone":"1"}]}]`), 100, "(#100) The parameter contacts[0]['name'] is required.", ""},
		{"unknown type", `{"messaging_product":"whatsapp","to":"1","type":"poll","poll":{}}`, 100,
			`(#100) Param type must be one of {TEXT, TEMPLATE, IMAGE, VIDEO, AUDIO, DOCUMENT, STICKER, LOCATION, CONTACTS, INTERACTIVE, REACTION} - got "poll".`, ""},
	}
	s, srv, _ := newSendSim(t, 1000)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := send(t, srv.URL, "tok-a", tt.body)
			if a.status != 400 || a.Error.Code != tt.code || a.Error.Message != tt.message || a.Error.Data.Details != tt.details || a.Error.Type != "OAuthException" {
				t.Errorf("answer %d code %d type %q\n message %q\n details %q\nwant 400 code %d OAuthException\n message %q\n details %q",
					a.status, a.Error.Code, a.Error.Type, a.Error.Message, a.Error.Data.Details, tt.code, tt.message, tt.details)
			}
			if (tt.details != "") != (a.Error.Data.MessagingProduct == "whatsapp") {
				t.Errorf("error_data %+v: WhatsApp's codes carry it (messaging_product and details), Graph's 100 does not", a.Error.Data)
			}
			for _, local := range []string{"schema", "spec.json", "#/", "jsonschema", "allOf", "oneOf"} {
				if strings.Contains(a.Error.Message+a.Error.Data.Details, local) {
					t.Errorf("the answer shows the simulator's own schema (%q): %s %s", local, a.Error.Message, a.Error.Data.Details)
				}
			}
		})
	}
	if got := len(s.Messages()); got != 0 {
		t.Errorf("%d invalid requests recorded as accepted", got)
	}
}

func TestSendChecksToken(t *testing.T) {
	s, srv, _ := newSendSim(t, 80)
	if a := send(t, srv.URL, "tok-b", text("5511999990001")); a.status != 401 || a.Error.Code != 190 {
		t.Errorf("wrong token: status %d code %d, want 401 and 190", a.status, a.Error.Code)
	}
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v23.0/999/messages", strings.NewReader(text("5511999990001")))
	req.Header.Set("Authorization", "Bearer tok-a")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("unknown number: status %d, want 400", resp.StatusCode)
	}
	if len(s.Messages()) != 0 {
		t.Error("refused requests recorded")
	}
}

// TestThroughputSlidingWindow: at most Throughput acceptances in any
// one-second window, counted on the simulator's clock.
func TestThroughputSlidingWindow(t *testing.T) {
	s, srv, clk := newSendSim(t, 5)
	to := func(i int) string { return "55119999900" + string(rune('0'+i/10)) + string(rune('0'+i%10)) }
	for i := 0; i < 3; i++ {
		if a := send(t, srv.URL, "tok-a", text(to(i))); a.status != 200 {
			t.Fatalf("send %d: %d", i, a.status)
		}
	}
	clk.Add(500 * time.Millisecond)
	for i := 3; i < 5; i++ {
		if a := send(t, srv.URL, "tok-a", text(to(i))); a.status != 200 {
			t.Fatalf("send %d: %d", i, a.status)
		}
	}
	if a := send(t, srv.URL, "tok-a", text(to(5))); a.Error.Code != 130429 {
		t.Fatalf("6th send within a second: code %d, want 130429", a.Error.Code)
	}
	// 999 ms after the first three they still count.
	clk.Add(499 * time.Millisecond)
	if a := send(t, srv.URL, "tok-a", text(to(6))); a.Error.Code != 130429 {
		t.Fatalf("send at 999 ms: code %d, want 130429", a.Error.Code)
	}
	// At one second the first three leave the window: three more fit.
	clk.Add(time.Millisecond)
	for i := 7; i < 10; i++ {
		if a := send(t, srv.URL, "tok-a", text(to(i))); a.status != 200 {
			t.Fatalf("send %d after the window slid: status %d code %d", i, a.status, a.Error.Code)
		}
	}
	if a := send(t, srv.URL, "tok-a", text(to(10))); a.Error.Code != 130429 {
		t.Fatalf("code %d, want 130429", a.Error.Code)
	}
	// Read receipts count against the number too.
	clk.Add(time.Second)
	for i := 0; i < 5; i++ {
		send(t, srv.URL, "tok-a", `{"messaging_product":"whatsapp","status":"read","message_id":"wamid.A"}`)
	}
	if a := send(t, srv.URL, "tok-a", text(to(11))); a.Error.Code != 130429 {
		t.Errorf("after 5 read receipts: code %d, want 130429", a.Error.Code)
	}
	if st := s.MessageStats(); st.Throughput != 4 || st.Accepted != 13 {
		t.Errorf("stats %+v, want 4 refusals and 13 accepted", st)
	}
}

func TestPairLimit(t *testing.T) {
	s, srv, clk := newSendSim(t, 1000)
	for i := 0; i < PairBurst; i++ {
		if a := send(t, srv.URL, "tok-a", text("5511999990001")); a.status != 200 {
			t.Fatalf("burst message %d: code %d", i+1, a.Error.Code)
		}
	}
	if a := send(t, srv.URL, "tok-a", text("5511999990001")); a.Error.Code != 131056 {
		t.Fatalf("message %d: code %d, want 131056", PairBurst+1, a.Error.Code)
	}
	if a := send(t, srv.URL, "tok-a", text("+5511999990002")); a.status != 200 {
		t.Errorf("another recipient: code %d", a.Error.Code)
	}
	clk.Add(PairPeriod)
	if a := send(t, srv.URL, "tok-a", text("5511999990001")); a.status != 200 {
		t.Errorf("one period later: code %d", a.Error.Code)
	}
	if a := send(t, srv.URL, "tok-a", text("5511999990001")); a.Error.Code != 131056 {
		t.Errorf("twice in a period after the burst: code %d, want 131056", a.Error.Code)
	}
	if st := s.MessageStats(); st.Pair != 2 {
		t.Errorf("pair refusals %d, want 2", st.Pair)
	}
}

func TestFaultsAndRecord(t *testing.T) {
	s, srv, _ := newSendSim(t, 80)
	resp, err := http.Post(srv.URL+"/_sim/faults", "application/json", strings.NewReader(`{"code":131026,"to":"+5511999990001","count":1}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if a := send(t, srv.URL, "tok-a", text("5511999990002")); a.status != 200 {
		t.Fatalf("another recipient hit the fault: %d", a.Error.Code)
	}
	if a := send(t, srv.URL, "tok-a", text("5511999990001")); a.status != 400 || a.Error.Code != 131026 {
		t.Fatalf("faulted send: status %d code %d, want 400 131026", a.status, a.Error.Code)
	}
	first := send(t, srv.URL, "tok-a", text("5511999990001"))
	if first.status != 200 || len(first.Messages) != 1 || !strings.HasPrefix(first.Messages[0].ID, "wamid.") {
		t.Fatalf("send after the fault: %+v", first)
	}
	if a := send(t, srv.URL, "tok-a", `{"messaging_product":"whatsapp","status":"read","message_id":"wamid.A","typing_indicator":{"type":"text"}}`); !a.Success {
		t.Errorf("typing indicator: %+v", a)
	}

	resp, err = http.Get(srv.URL + "/_sim/messages")
	if err != nil {
		t.Fatal(err)
	}
	var got []struct {
		WAMID string          `json:"wamid"`
		PNID  string          `json:"phone_number_id"`
		To    string          `json:"to"`
		Type  string          `json:"type"`
		Body  json.RawMessage `json:"body"`
		At    time.Time       `json:"accepted_at"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&got)
	resp.Body.Close()
	if len(got) != 3 || got[0].To != "5511999990002" || got[1].WAMID != first.Messages[0].ID || got[2].Type != "typing" {
		t.Fatalf("recorded %+v", got)
	}
	var body map[string]any
	if err := json.Unmarshal(got[1].Body, &body); err != nil || body["to"] != "5511999990001" || got[1].PNID != "100" {
		t.Errorf("recorded body %s", got[1].Body)
	}
	for _, c := range []struct {
		from int
		want []string // wamids or types
	}{
		{-1, []string{got[0].WAMID, got[1].WAMID, "typing"}},
		{0, []string{got[0].WAMID, got[1].WAMID, "typing"}},
		{2, []string{"typing"}},
		{3, nil},
		{9, nil},
	} {
		var ids []string
		for _, a := range s.MessagesFrom(c.from) {
			id := a.WAMID
			if id == "" {
				id = a.Type
			}
			ids = append(ids, id)
		}
		if !slices.Equal(ids, c.want) {
			t.Errorf("MessagesFrom(%d) = %v, want %v", c.from, ids, c.want)
		}
	}
	req, _ := http.NewRequest(http.MethodDelete, srv.URL+"/_sim/messages", nil)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}
	if n := len(s.Messages()); n != 0 {
		t.Errorf("%d messages after reset", n)
	}
}

// TestSendToBusinessScopedUserID: a user known only by a BSUID is messaged
// with recipient in place of to, and the answer names it as user_id; to
// wins when both are given; a recipient that is not a BSUID is refused.
func TestSendToBusinessScopedUserID(t *testing.T) {
	_, srv, _ := newSendSim(t, 80)
	const bsuid = "US.13491208655302741918"
	body := func(fields string) string {
		return `{"messaging_product":"whatsapp","recipient_type":"individual",` + fields + `,"type":"text","text":{"body":"hi"}}`
	}
	tests := []struct {
		name        string
		body        string
		wantStatus  int
		wantContact map[string]string
	}{
		{"recipient alone", body(`"recipient":"` + bsuid + `"`), 200, map[string]string{"input": bsuid, "user_id": bsuid}},
		{"parent business-scoped user id", body(`"recipient":"US.ENT.11815799212886844830"`), 200,
			map[string]string{"input": "US.ENT.11815799212886844830", "user_id": "US.ENT.11815799212886844830"}},
		{"to and recipient: to wins", body(`"to":"16315551181","recipient":"` + bsuid + `"`), 200, map[string]string{"input": "16315551181", "wa_id": "16315551181"}},
		{"recipient a phone number", body(`"recipient":"16315551181"`), 400, nil},
		{"neither", `{"messaging_product":"whatsapp","recipient_type":"individual","type":"text","text":{"body":"hi"}}`, 400, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v23.0/100/messages", strings.NewReader(tt.body))
			req.Header.Set("Authorization", "Bearer tok-a")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var a struct {
				Contacts []map[string]string `json:"contacts"`
			}
			raw, _ := io.ReadAll(resp.Body)
			_ = json.Unmarshal(raw, &a)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.wantStatus, raw)
			}
			if tt.wantContact != nil && (len(a.Contacts) != 1 || fmt.Sprint(a.Contacts[0]) != fmt.Sprint(tt.wantContact)) {
				t.Errorf("contacts %v, want [%v]", a.Contacts, tt.wantContact)
			}
		})
	}
}

// TestThroughputCountsArrival: a request is counted when it arrives, not
// when the simulator gets to it, so the simulator's own stalls (here its
// lock, held while the request waits) never bunch requests that arrived
// spaced out and refuse them.
func TestThroughputCountsArrival(t *testing.T) {
	s, srv, clk := newSendSim(t, 1)
	stamped := make(chan struct{}, 1)
	s.cfg.Now = func() time.Time {
		select {
		case stamped <- struct{}{}:
		default:
		}
		return clk.Now()
	}
	s.mu.Lock()
	first := make(chan answer, 1)
	go func() { first <- send(t, srv.URL, "tok-a", text("5511999990001")) }()
	<-stamped
	clk.Add(900 * time.Millisecond) // the simulator is stalled meanwhile
	s.mu.Unlock()
	if a := <-first; a.status != 200 {
		t.Fatalf("first send: status %d code %d", a.status, a.Error.Code)
	}
	// 1.05 s after the first arrived: a new window, whenever the first was
	// handled.
	clk.Add(150 * time.Millisecond)
	if a := send(t, srv.URL, "tok-a", text("5511999990002")); a.status != 200 {
		t.Fatalf("send 1.05 s after the first arrived: status %d code %d, want accepted", a.status, a.Error.Code)
	}
}

// TestOverThroughput: requests handled out of their arrival order still
// count in every window that holds them.
func TestOverThroughput(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	at := func(ms ...int) []time.Time {
		var out []time.Time
		for _, m := range ms {
			out = append(out, t0.Add(time.Duration(m)*time.Millisecond))
		}
		return out
	}
	for _, c := range []struct {
		name  string
		times []time.Time
		now   int
		limit int
		want  bool
	}{
		{"empty", nil, 0, 1, false},
		{"full window before", at(100, 500), 900, 2, true},
		{"first left the window", at(100, 500), 1100, 2, false},
		{"exactly one second later", at(0), 1000, 1, false},
		{"a later arrival handled first", at(400), 0, 1, true},
		{"later arrival more than a second on", at(1000), 0, 1, false},
		{"a window ending at a later arrival", at(0, 600), 300, 2, true},
		{"room in every window", at(0, 1200), 600, 2, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := overThroughput(c.times, t0.Add(time.Duration(c.now)*time.Millisecond), c.limit); got != c.want {
				t.Errorf("overThroughput = %v, want %v", got, c.want)
			}
		})
	}
}
