package graphsim

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
)

// InboundRequest is what POST /_sim/inbound takes: a simulated WhatsApp
// user (From, Name) sends one message to a business number. The format is
// open: Content, when given, is used verbatim as the message's type object
// (message[type]), so any message kind Meta sends can be simulated; the
// other fields are shortcuts for the common kinds.
type InboundRequest struct {
	PhoneNumberID string `json:"phone_number_id"` // default: the first configured number
	From          string `json:"from"`            // the user's wa_id (default 5511999990001)
	// UserID is the user's business-scoped user id (from_user_id and
	// contacts[].user_id, as Meta's payloads carry it), if any.
	UserID    string `json:"user_id,omitempty"`
	Name      string `json:"name"`      // profile name (default "Local User")
	Type      string `json:"type"`      // default "text"
	Timestamp int64  `json:"timestamp"` // Unix seconds (default now)
	// Content is the message's type object, used as is when set.
	Content json.RawMessage `json:"content,omitempty"`
	// Context makes the message a reply: {"from": "...", "id": "wamid..."}.
	Context json.RawMessage `json:"context,omitempty"`

	// text
	Text string `json:"text,omitempty"`
	// location
	Latitude  float64 `json:"latitude,omitempty"`
	Longitude float64 `json:"longitude,omitempty"`
	Address   string  `json:"address,omitempty"`
	PlaceName string  `json:"place_name,omitempty"`
	// reaction: MessageID (the message reacted to) and Emoji ("" removes it)
	MessageID string `json:"message_id,omitempty"`
	Emoji     string `json:"emoji,omitempty"`
	// interactive replies: type "button_reply" or "list_reply" (or
	// "interactive" with ReplyType) with ReplyID, ReplyTitle, ReplyDescription
	ReplyType        string `json:"reply_type,omitempty"`
	ReplyID          string `json:"reply_id,omitempty"`
	ReplyTitle       string `json:"reply_title,omitempty"`
	ReplyDescription string `json:"reply_description,omitempty"`
	// template quick-reply button: type "button" with Payload and Text
	Payload string `json:"payload,omitempty"`
	// media (image, video, audio, document, sticker): either MediaID (a
	// media the simulator holds fills mime_type, sha256 and filename when
	// they are not given; an unknown id is sent as is, to simulate media
	// Meta no longer has) or Media, created in the simulator first (content
	// given, or generated at Media.Size) and then referenced.
	Media    *MediaSpec `json:"media,omitempty"`
	MediaID  string     `json:"media_id,omitempty"`
	MimeType string     `json:"mime_type,omitempty"`
	SHA256   string     `json:"sha256,omitempty"`
	Caption  string     `json:"caption,omitempty"`
	Filename string     `json:"filename,omitempty"`
	Voice    bool       `json:"voice,omitempty"`
}

// InboundResult is the answer of POST /_sim/inbound.
type InboundResult struct {
	WAMID   string          `json:"wamid"`
	Payload json.RawMessage `json:"payload"` // exactly the bytes posted to the webhook
	// Media is the simulator's media object the message references, when
	// it holds it (its id, size and sha256, to check what was stored).
	Media *MediaObject `json:"media,omitempty"`
	Error string       `json:"error,omitempty"`
}

// Payload shapes, in Meta's field order.
type (
	webhookPayload struct {
		Object string         `json:"object"`
		Entry  []webhookEntry `json:"entry"`
	}
	webhookEntry struct {
		ID      string          `json:"id"`
		Changes []webhookChange `json:"changes"`
	}
	webhookChange struct {
		Value any    `json:"value"`
		Field string `json:"field"`
	}
	messagesValue struct {
		MessagingProduct string            `json:"messaging_product"`
		Metadata         metadata          `json:"metadata"`
		Contacts         []contact         `json:"contacts,omitempty"`
		Messages         []json.RawMessage `json:"messages,omitempty"`
		Statuses         []json.RawMessage `json:"statuses,omitempty"`
	}
	metadata struct {
		DisplayPhoneNumber string `json:"display_phone_number"`
		PhoneNumberID      string `json:"phone_number_id"`
	}
	contact struct {
		Profile struct {
			Name string `json:"name"`
		} `json:"profile"`
		WaID   string `json:"wa_id"`
		UserID string `json:"user_id,omitempty"`
	}
)

// routeInbound registers POST /_sim/inbound (a simulated user sends a
// message) and POST /_sim/webhook (post any payload, signed, to the webhook).
func (s *Sim) routeInbound(mux *http.ServeMux) {
	mux.HandleFunc("POST /_sim/inbound", s.handleInbound)
	mux.HandleFunc("POST /_sim/webhook", s.handleWebhook)
}

func (s *Sim) handleInbound(w http.ResponseWriter, r *http.Request) {
	var req InboundRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
		replyJSON(w, http.StatusBadRequest, map[string]string{"error": "request is not JSON: " + err.Error()})
		return
	}
	n, ok := s.inboundNumber(req.PhoneNumberID)
	if !ok {
		replyJSON(w, http.StatusNotFound, map[string]string{"error": fmt.Sprintf("phone_number_id %q is not a simulated number", req.PhoneNumberID)})
		return
	}
	if why := s.webhooksOff(n); why != "" {
		replyJSON(w, http.StatusConflict, map[string]string{"error": why})
		return
	}
	media, err := s.inboundMedia(n, &req)
	if err != nil {
		replyJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	wamid, payload, err := s.InboundPayload(n, req)
	if err != nil {
		replyJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	res := InboundResult{WAMID: wamid, Payload: payload, Media: media}
	// The user wrote: the window opens whether or not the webhook is taken.
	s.heardFrom(payload)
	if err := s.PostWebhook(r.Context(), n, payload); err != nil {
		res.Error = err.Error()
		replyJSON(w, http.StatusBadGateway, res)
		return
	}
	replyJSON(w, http.StatusOK, res)
}

// handleWebhook posts the request body, byte for byte, signed with the
// number's app secret (?phone_number_id=, default the first number), for
// replaying captured or reference payloads.
func (s *Sim) handleWebhook(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 10<<20))
	if err != nil {
		replyJSON(w, http.StatusBadRequest, map[string]string{"error": "read body"})
		return
	}
	n, ok := s.inboundNumber(r.URL.Query().Get("phone_number_id"))
	if !ok {
		replyJSON(w, http.StatusNotFound, map[string]string{"error": "unknown phone_number_id"})
		return
	}
	s.heardFrom(body)
	if err := s.PostWebhook(r.Context(), n, body); err != nil {
		replyJSON(w, http.StatusBadGateway, map[string]string{"error": err.Error()})
		return
	}
	replyJSON(w, http.StatusOK, map[string]string{"status": "delivered"})
}

// inboundMedia resolves the media of a media message for number n: it
// creates req.Media in the simulator, or looks req.MediaID up, and fills
// the webhook's media fields Meta sends (mime_type, sha256 in base64,
// filename) that the request left empty. It returns the object, or nil
// for other kinds and for ids the simulator does not hold.
func (s *Sim) inboundMedia(n *Number, req *InboundRequest) (*MediaObject, error) {
	switch req.Type {
	case "image", "video", "audio", "document", "sticker":
	default:
		if req.Media != nil {
			return nil, fmt.Errorf("media is only for image, video, audio, document and sticker messages, not %q", req.Type)
		}
		return nil, nil
	}
	if len(req.Content) > 0 {
		return nil, nil
	}
	var o MediaObject
	switch {
	case req.Media != nil && req.MediaID != "":
		return nil, errors.New("give media or media_id, not both")
	case req.Media != nil:
		spec := *req.Media
		if spec.PhoneNumberID != "" && spec.PhoneNumberID != n.PhoneNumberID {
			return nil, fmt.Errorf("media.phone_number_id %s is not the receiving number %s", spec.PhoneNumberID, n.PhoneNumberID)
		}
		spec.PhoneNumberID = n.PhoneNumberID
		if spec.Filename == "" {
			spec.Filename = req.Filename
		}
		var err error
		if o, err = s.CreateMedia(spec); err != nil {
			return nil, err
		}
		req.MediaID = o.ID
	case req.MediaID != "":
		held, ok := s.mediaObject(req.MediaID)
		if !ok {
			return nil, nil
		}
		o = *held
	default:
		return nil, nil
	}
	if req.MimeType == "" {
		req.MimeType = o.MimeType
	}
	if req.SHA256 == "" {
		req.SHA256 = o.SHA256Base64
	}
	if req.Filename == "" {
		req.Filename = o.Filename
	}
	return &o, nil
}

// inboundNumber returns the number with id, or the first configured number
// when id is empty.
func (s *Sim) inboundNumber(id string) (*Number, bool) {
	if id == "" {
		if len(s.cfg.Numbers) == 0 {
			return nil, false
		}
		id = s.cfg.Numbers[0].PhoneNumberID
	}
	n, ok := s.numbers()[id]
	return n, ok
}

// InboundPayload builds the webhook payload Meta would send for req to
// number n, with a fresh wamid.
func (s *Sim) InboundPayload(n *Number, req InboundRequest) (string, []byte, error) {
	if req.Type == "" {
		req.Type = "text"
	}
	if req.From == "" {
		req.From = "5511999990001"
	}
	if req.Name == "" {
		req.Name = "Local User"
	}
	ts := req.Timestamp
	if ts == 0 {
		ts = s.cfg.Now().Unix()
	}
	typ, content, err := inboundContent(req)
	if err != nil {
		return "", nil, err
	}
	wamid := NewWAMID()
	msg := map[string]any{
		"from":      req.From,
		"id":        wamid,
		"timestamp": strconv.FormatInt(ts, 10),
		"type":      typ,
		typ:         content,
	}
	if len(req.Context) > 0 {
		msg["context"] = req.Context
	}
	if req.UserID != "" {
		msg["from_user_id"] = req.UserID
	}
	rawMsg, err := json.Marshal(msg)
	if err != nil {
		return "", nil, fmt.Errorf("encode message: %w", err)
	}
	c := contact{WaID: req.From, UserID: req.UserID}
	c.Profile.Name = req.Name
	payload, err := json.Marshal(webhookPayload{
		Object: "whatsapp_business_account",
		Entry: []webhookEntry{{ID: n.WABAID, Changes: []webhookChange{{Field: "messages", Value: messagesValue{
			MessagingProduct: "whatsapp",
			Metadata:         metadata{DisplayPhoneNumber: n.DisplayPhoneNumber, PhoneNumberID: n.PhoneNumberID},
			Contacts:         []contact{c},
			Messages:         []json.RawMessage{rawMsg},
		}}}}},
	})
	if err != nil {
		return "", nil, fmt.Errorf("encode payload: %w", err)
	}
	return wamid, payload, nil
}

// inboundContent returns the message type and its type object.
func inboundContent(req InboundRequest) (string, any, error) {
	typ := req.Type
	if len(req.Content) > 0 {
		if typ == "button_reply" || typ == "list_reply" {
			typ = "interactive"
		}
		return typ, req.Content, nil
	}
	switch typ {
	case "text":
		if req.Text == "" {
			return "", nil, errors.New("text message needs text")
		}
		return typ, map[string]any{"body": req.Text}, nil
	case "location":
		loc := map[string]any{"latitude": req.Latitude, "longitude": req.Longitude}
		if req.PlaceName != "" {
			loc["name"] = req.PlaceName
		}
		if req.Address != "" {
			loc["address"] = req.Address
		}
		return typ, loc, nil
	case "reaction":
		if req.MessageID == "" {
			return "", nil, errors.New("reaction needs message_id")
		}
		return typ, map[string]any{"message_id": req.MessageID, "emoji": req.Emoji}, nil
	case "button_reply", "list_reply", "interactive":
		kind := req.ReplyType
		if typ != "interactive" {
			kind = typ
		}
		if kind != "button_reply" && kind != "list_reply" {
			return "", nil, errors.New(`interactive reply needs reply_type "button_reply" or "list_reply" (or content)`)
		}
		if req.ReplyID == "" {
			return "", nil, errors.New("interactive reply needs reply_id")
		}
		reply := map[string]any{"id": req.ReplyID, "title": req.ReplyTitle}
		if kind == "list_reply" && req.ReplyDescription != "" {
			reply["description"] = req.ReplyDescription
		}
		return "interactive", map[string]any{"type": kind, kind: reply}, nil
	case "button":
		return typ, map[string]any{"payload": req.Payload, "text": req.Text}, nil
	case "image", "video", "audio", "document", "sticker":
		if req.MediaID == "" {
			return "", nil, fmt.Errorf("%s message needs media_id", typ)
		}
		m := map[string]any{"id": req.MediaID}
		if req.MimeType != "" {
			m["mime_type"] = req.MimeType
		}
		if req.SHA256 != "" {
			m["sha256"] = req.SHA256
		}
		if req.Caption != "" && typ != "audio" && typ != "sticker" {
			m["caption"] = req.Caption
		}
		if req.Filename != "" && typ == "document" {
			m["filename"] = req.Filename
		}
		if typ == "audio" && req.Voice {
			m["voice"] = true
		}
		return typ, m, nil
	}
	return "", nil, fmt.Errorf("type %q needs content (the message's %q object)", typ, typ)
}

// NewWAMID returns a fresh message id shaped like Meta's.
func NewWAMID() string {
	b := make([]byte, 30)
	_, _ = rand.Read(b)
	return "wamid." + base64.StdEncoding.EncodeToString(b)
}

func replyJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
