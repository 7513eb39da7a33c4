package strictjson_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/tucanlink/wacloud/shared/outbound"
	"github.com/tucanlink/wacloud/shared/strictjson"
)

// corpus is real input: Meta's webhook payloads the project keeps, and
// the bodies of the sender's sample jobs.
func corpus(t *testing.T) (webhooks, jobs [][]byte) {
	t.Helper()
	files, _ := filepath.Glob("../webhook/testdata/webhooks/*.json")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		webhooks = append(webhooks, b)
	}
	events, _ := filepath.Glob("../../events/sender/*.json")
	for _, f := range events {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var ev struct{ Records []struct{ Body string } }
		if err := json.Unmarshal(b, &ev); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, r := range ev.Records {
			jobs = append(jobs, []byte(r.Body))
		}
	}
	if len(webhooks) < 50 || len(jobs) < 30 {
		t.Fatalf("corpus of %d webhooks and %d jobs: the testdata moved", len(webhooks), len(jobs))
	}
	return webhooks, jobs
}

// variants are b and the ways a body goes wrong: a key given twice,
// again in another case, an unknown key, a key written with an escape,
// a null, a truncation, and trailing data.
func variants(b []byte) [][]byte {
	out := [][]byte{b}
	i := bytes.IndexByte(b, '{')
	if i < 0 {
		return out
	}
	j := bytes.IndexByte(b[i:], '"')
	k := bytes.IndexByte(b[i+j+1:], '"')
	if j < 0 || k < 0 {
		return out
	}
	key := string(b[i+j+1 : i+j+1+k])
	ins := func(s string) []byte {
		return append(append(append([]byte{}, b[:i+1]...), s...), b[i+1:]...)
	}
	out = append(out,
		ins(`"`+key+`":1,`),
		ins(`"`+strings.ToUpper(key)+`":1,`),
		ins(`"\u212a\u017f":1,"KS":2,`),
		ins(`"no_such_key":{"a":[1,{"b":null}]},`),
		ins(`"`+strings.Replace(key, key[:1], `\u00`+strings.ToLower(string("0123456789abcdef"[key[0]>>4]))+string("0123456789abcdef"[key[0]&15]), 1)+`":"x",`),
		bytes.Replace(b, []byte(`":"`), []byte(`":null,"zz":"`), 1),
		b[:len(b)/2],
		append(append([]byte{}, b...), " {}"...),
		[]byte(" \n "),
	)
	return out
}

// TestScanAgreesWithTokens: the scanner check uses for valid JSON
// decides every real payload and each of its broken variants exactly as
// the Token walk does (same error, word for word, or none).
func TestScanAgreesWithTokens(t *testing.T) {
	webhooks, jobs := corpus(t)
	types := []struct {
		name string
		t    reflect.Type
		in   [][]byte
	}{
		{"webhook, any keys", nil, webhooks},
		{"webhook as a map", reflect.TypeFor[map[string]any](), webhooks},
		{"job", reflect.TypeFor[outbound.Job](), jobs},
		{"job's keys only", nil, jobs},
	}
	compared, refused := 0, 0
	for _, tt := range types {
		t.Run(tt.name, func(t *testing.T) {
			for _, doc := range tt.in {
				for _, v := range variants(doc) {
					if !json.Valid(v) {
						continue // check leaves invalid JSON to the Token walk
					}
					compared++
					got, want := strictjson.CheckScan(v, tt.t), strictjson.CheckTokens(v, tt.t)
					if want != nil {
						refused++
					}
					if errText(got) != errText(want) {
						t.Errorf("%.120s…\nscan:   %v\ntokens: %v", v, got, want)
					}
				}
			}
		})
	}
	t.Logf("%d bodies compared, %d refused", compared, refused)
	if refused < compared/3 {
		t.Errorf("only %d of %d bodies refused: the variants no longer break what they should", refused, compared)
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// BenchmarkCheck: the scanner against the Token walk, on a sample job and
// a webhook payload.
func BenchmarkCheck(b *testing.B) {
	job, _ := os.ReadFile("../../events/sender/template.json")
	var ev struct{ Records []struct{ Body string } }
	_ = json.Unmarshal(job, &ev)
	hook, _ := os.ReadFile("../webhook/testdata/webhooks/button_with_context_and_referral.json")
	for _, bb := range []struct {
		name string
		data []byte
		t    reflect.Type
	}{
		{"job", []byte(ev.Records[0].Body), reflect.TypeFor[outbound.Job]()},
		{"webhook", hook, nil},
	} {
		b.Run(bb.name+"/scan", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if json.Valid(bb.data) {
					_ = strictjson.CheckScan(bb.data, bb.t)
				}
			}
		})
		b.Run(bb.name+"/tokens", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = strictjson.CheckTokens(bb.data, bb.t)
			}
		})
	}
}
