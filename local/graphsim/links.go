package graphsim

import (
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Meta's error codes the simulator reports in failed statuses.
const (
	// CodeWindowClosed: a free-form message outside the customer service
	// window ("Re-engagement message").
	CodeWindowClosed = 131047
	// CodeMediaUpload: Meta could not fetch or use a media link.
	CodeMediaUpload = 131053
	// CodeSpamRateLimit: the business portfolio's messaging limit is
	// reached ("Spam rate limit hit"; limits.go says why this code).
	CodeSpamRateLimit = 131048
)

// mediaLink is a media `link` of a send: the media object's kind (the key
// it sits under: image, video, audio, document, sticker) and the URL.
type mediaLink struct {
	kind, url string
}

var mediaKinds = []string{"image", "video", "audio", "document", "sticker"}

// mediaLinks finds every media link of a send, wherever it sits: the
// message's own media object, an interactive header, template header
// parameters, carousel cards.
func mediaLinks(req map[string]any) []mediaLink {
	var out []mediaLink
	var walk func(key string, v any)
	walk = func(key string, v any) {
		switch v := v.(type) {
		case map[string]any:
			if link, ok := v["link"].(string); ok && slices.Contains(mediaKinds, key) {
				out = append(out, mediaLink{kind: key, url: link})
			}
			for k, c := range v {
				walk(k, c)
			}
		case []any:
			for _, c := range v {
				walk(key, c)
			}
		}
	}
	for k, v := range req {
		walk(k, v)
	}
	slices.SortFunc(out, func(a, b mediaLink) int { return strings.Compare(a.kind+a.url, b.kind+b.url) })
	return out
}

// mediaRules are Meta's supported types and sizes of linked media. A
// document may be of any type.
var mediaRules = map[string]struct {
	types []string
	max   int64
}{
	"image":    {[]string{"image/jpeg", "image/png"}, 5 << 20},
	"video":    {[]string{"video/3gpp", "video/mp4"}, 16 << 20},
	"audio":    {[]string{"audio/aac", "audio/amr", "audio/mpeg", "audio/mp4", "audio/ogg"}, 16 << 20},
	"sticker":  {[]string{"image/webp"}, 500 << 10},
	"document": {nil, 100 << 20},
}

// linkTimeout bounds one fetch, as Meta's fetcher gives up on a slow host.
const linkTimeout = 20 * time.Second

// fetchLinks fetches each link with a GET, as Meta does before it sends a
// message with linked media. It returns 0, or 131053 with Meta's details
// when a link does not answer 200 with media of a supported type and size.
func (s *Sim) fetchLinks(ctx context.Context, links []mediaLink) (int, string) {
	for _, l := range links {
		details := s.fetchLink(ctx, l)
		s.mu.Lock()
		s.messages.stats.LinksFetched++
		if details != "" {
			s.messages.stats.LinksFailed++
		}
		s.mu.Unlock()
		if details != "" {
			return CodeMediaUpload, details
		}
	}
	return 0, ""
}

// fetchLink returns "" when the link serves usable media, else the
// failure's details in Meta's words.
func (s *Sim) fetchLink(ctx context.Context, l mediaLink) string {
	ctx, cancel := context.WithTimeout(ctx, linkTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, l.url, nil)
	if err != nil {
		return "Downloading media from weblink failed: the link is not a valid URL"
	}
	resp, err := s.cfg.HTTPClient.Do(req)
	if err != nil {
		return "Downloading media from weblink failed: the host could not be reached"
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		// Meta's words (shared/reference/graph/error_131053_media_upload_inner.json).
		return fmt.Sprintf("Downloading media from weblink failed with http code %d, status message %s",
			resp.StatusCode, strings.TrimPrefix(resp.Status, fmt.Sprintf("%d ", resp.StatusCode)))
	}
	rule := mediaRules[l.kind]
	if len(rule.types) > 0 {
		mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
		if !slices.Contains(rule.types, mt) {
			// Meta's words (shared/reference/webhooks/status_failed_131053_media_upload.json).
			return fmt.Sprintf("Unsupported %s mime type %s. Please use one of %s.",
				strings.ToUpper(l.kind[:1])+l.kind[1:], mt, strings.Join(rule.types, ", "))
		}
	}
	n, err := io.Copy(io.Discard, io.LimitReader(resp.Body, rule.max+1))
	switch {
	case err != nil:
		return "Downloading media from weblink failed: the download was interrupted"
	case n > rule.max:
		return fmt.Sprintf("Media file size too big. Max %s file size is %d bytes.", l.kind, rule.max)
	case n == 0:
		return "Downloading media from weblink failed: the file is empty"
	}
	return ""
}
