package media

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/tucanlink/wacloud/shared/fault"
)

func TestParseRefRefusesOutsideTenant(t *testing.T) {
	r := &OutboundResolver{Bucket: "data"}
	tests := []struct {
		name, tenant, uri string
		ok                bool
	}{
		{"own prefix", "acme", "s3://data/tenants/acme/out/a.jpg", true},
		{"own prefix, scheme in capitals", "acme", "S3://data/tenants/acme/out/a.jpg", true},
		{"other tenant, scheme in capitals", "acme", "S3://data/tenants/other/out/a.jpg", false},
		{"own media", "acme", "s3://data/tenants/acme/media/2025/06/08/wamid.X.jpg", true},
		{"other tenant", "acme", "s3://data/tenants/other/out/a.jpg", false},
		{"tenant id as a prefix of another", "acme", "s3://data/tenants/acme2/out/a.jpg", false},
		{"other bucket", "acme", "s3://elsewhere/tenants/acme/out/a.jpg", false},
		{"dot-dot escape", "acme", "s3://data/tenants/acme/../other/a.jpg", false},
		{"dot-dot at the end", "acme", "s3://data/tenants/acme/..", false},
		{"dot segment", "acme", "s3://data/tenants/acme/./a.jpg", false},
		{"double slash", "acme", "s3://data/tenants/acme//a.jpg", false},
		{"absolute key", "acme", "s3://data//tenants/acme/a.jpg", false},
		{"percent-encoded dot-dot", "acme", "s3://data/tenants/acme/%2e%2e/other/a.jpg", false},
		{"percent-encoded slash", "acme", "s3://data/tenants/acme%2F..%2Fother/a.jpg", false},
		{"backslash", "acme", `s3://data/tenants/acme/..\other\a.jpg`, false},
		{"query", "acme", "s3://data/tenants/acme/a.jpg?versionId=1", false},
		{"control character", "acme", "s3://data/tenants/acme/a\n.jpg", false},
		{"prefix only", "acme", "s3://data/tenants/acme/", false},
		{"not s3", "acme", "https://data.s3.amazonaws.com/tenants/acme/a.jpg", false},
		{"no key", "acme", "s3://data", false},
		{"empty tenant", "", "s3://data/tenants//a.jpg", false},
		{"tenant with slash", "acme/x", "s3://data/tenants/acme/x/a.jpg", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := r.ParseRef(tt.tenant, tt.uri)
			if tt.ok {
				if err != nil {
					t.Fatalf("ParseRef(%q, %q) = %v, want ok", tt.tenant, tt.uri, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("ParseRef(%q, %q) accepted", tt.tenant, tt.uri)
			}
			if !errors.Is(err, ErrOutsideTenant) || fault.ClassOf(err) != fault.Permanent {
				t.Errorf("ParseRef(%q, %q) = %v, want a permanent ErrOutsideTenant", tt.tenant, tt.uri, err)
			}
		})
	}
}

func TestResolve(t *testing.T) {
	e := newTestEnv(t)
	r, err := NewOutboundResolver(e.getenv, e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	put := func(key, contentType string, body []byte) string {
		t.Helper()
		if _, err := e.s3.PutObject(e.ctx, &s3.PutObjectInput{Bucket: aws.String(e.bucket), Key: aws.String(key),
			Body: bytes.NewReader(body), ContentType: aws.String(contentType)}); err != nil {
			t.Fatal(err)
		}
		return "s3://" + e.bucket + "/" + key
	}
	image := randomBytes(t, 100<<10)
	sticker := webp(40<<10, false)
	smallDoc := randomBytes(t, 200<<10)
	largeDoc := randomBytes(t, 6<<20)

	t.Run("image by presigned link", func(t *testing.T) {
		id, link, err := r.Resolve(e.ctx, tenantA, numberA, tokenA, KindImage, put("tenants/acme/out/photo.jpg", "image/jpeg", image))
		if err != nil || id != "" || link == "" {
			t.Fatalf("Resolve = %q, %q, %v; want a link", id, link, err)
		}
		if got := fetch(t, link); !bytes.Equal(got, image) {
			t.Error("link does not serve the object")
		}
	})
	t.Run("small document by link", func(t *testing.T) {
		id, link, err := r.Resolve(e.ctx, tenantA, numberA, tokenA, KindDocument, put("tenants/acme/out/a.pdf", "application/pdf", smallDoc))
		if err != nil || id != "" || link == "" {
			t.Fatalf("Resolve = %q, %q, %v; want a link", id, link, err)
		}
	})

	stickerURI := put("tenants/acme/out/hello.webp", "image/webp", sticker)
	var stickerID string
	t.Run("sticker uploaded once", func(t *testing.T) {
		for i := 0; i < 3; i++ {
			id, link, err := r.Resolve(e.ctx, tenantA, numberA, tokenA, KindSticker, stickerURI)
			if err != nil || id == "" || link != "" {
				t.Fatalf("Resolve #%d = %q, %q, %v; want a media id", i, id, link, err)
			}
			if stickerID != "" && id != stickerID {
				t.Fatalf("Resolve #%d = %q, want cached %q", i, id, stickerID)
			}
			stickerID = id
		}
		if got := e.sim.MediaUploads(numberA); got != 1 {
			t.Errorf("uploads = %d, want 1", got)
		}
		rd, o, ok := e.sim.MediaContent(stickerID)
		if !ok || o.MimeType != "image/webp" || o.PhoneNumberID != numberA {
			t.Fatalf("uploaded media = %+v", o)
		}
		if got, _ := io.ReadAll(rd); !bytes.Equal(got, sticker) {
			t.Error("uploaded bytes differ")
		}
	})
	t.Run("changed object uploaded again", func(t *testing.T) {
		put("tenants/acme/out/hello.webp", "image/webp", webp(41<<10, false))
		id, _, err := r.Resolve(e.ctx, tenantA, numberA, tokenA, KindSticker, stickerURI)
		if err != nil || id == "" || id == stickerID {
			t.Fatalf("Resolve = %q, %v; want a new id", id, err)
		}
		if got := e.sim.MediaUploads(numberA); got != 2 {
			t.Errorf("uploads = %d, want 2", got)
		}
	})
	t.Run("large document uploaded", func(t *testing.T) {
		id, link, err := r.Resolve(e.ctx, tenantA, numberA, tokenA, KindDocument, put("tenants/acme/out/catalogue.pdf", "application/pdf", largeDoc))
		if err != nil || id == "" || link != "" {
			t.Fatalf("Resolve = %q, %q, %v; want a media id", id, link, err)
		}
		rd, _, _ := e.sim.MediaContent(id)
		if got, _ := io.ReadAll(rd); !bytes.Equal(got, largeDoc) {
			t.Error("uploaded bytes differ")
		}
	})

	permanent := []struct {
		name, tenant, kind, uri, wantInError string
	}{
		{"other tenant's object", tenantB, KindSticker, stickerURI, "not under"},
		{"missing object", tenantA, KindImage, "s3://" + e.bucket + "/tenants/acme/out/none.jpg", "not found"},
		{"image over 5 MB", tenantA, KindImage, put("tenants/acme/out/big.jpg", "image/jpeg", randomBytes(t, 5<<20+1)), "exceeds"},
		{"static sticker over 100 KB", tenantA, KindSticker, put("tenants/acme/out/big.webp", "image/webp", webp(120<<10, false)), "static sticker"},
	}
	for _, tt := range permanent {
		t.Run(tt.name, func(t *testing.T) {
			before := e.sim.MediaUploads(numberA) + e.sim.MediaUploads(numberB)
			_, _, err := r.Resolve(e.ctx, tt.tenant, numberB, tokenB, tt.kind, tt.uri)
			if err == nil || fault.ClassOf(err) != fault.Permanent || !strings.Contains(err.Error(), tt.wantInError) {
				t.Fatalf("Resolve = %v, want a permanent error mentioning %q", err, tt.wantInError)
			}
			if after := e.sim.MediaUploads(numberA) + e.sim.MediaUploads(numberB); after != before {
				t.Error("something was uploaded")
			}
		})
	}
	t.Run("animated sticker over 100 KB uploaded", func(t *testing.T) {
		id, _, err := r.Resolve(e.ctx, tenantA, numberA, tokenA, KindSticker, put("tenants/acme/out/anim.webp", "image/webp", webp(300<<10, true)))
		if err != nil || id == "" {
			t.Fatalf("Resolve = %q, %v", id, err)
		}
	})
	t.Run("cache item keyed by number, object and ETag", func(t *testing.T) {
		head, err := e.s3.HeadObject(e.ctx, &s3.HeadObjectInput{Bucket: aws.String(e.bucket), Key: aws.String("tenants/acme/out/hello.webp")})
		if err != nil {
			t.Fatal(err)
		}
		pk := "mediaid#" + numberA + "#" + e.bucket + "/tenants/acme/out/hello.webp#" + strings.Trim(aws.ToString(head.ETag), `"`)
		out, err := dynamodb.NewFromConfig(e.cfg).GetItem(e.ctx, &dynamodb.GetItemInput{
			TableName: aws.String(e.getenv("STATE_TABLE")),
			Key:       map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: pk}},
		})
		if err != nil || out.Item == nil {
			t.Fatalf("no cache item %s (%v)", pk, err)
		}
		exp, _ := strconv.ParseInt(out.Item["expires_at"].(*ddbtypes.AttributeValueMemberN).Value, 10, 64)
		if left := time.Until(time.Unix(exp, 0)); left < 28*24*time.Hour || left >= 30*24*time.Hour {
			t.Errorf("cached id expires in %s, want just under 30 days", left)
		}
		if got := out.Item["tenant_id"].(*ddbtypes.AttributeValueMemberS).Value; got != tenantA {
			t.Errorf("tenant_id = %q", got)
		}
	})
}
