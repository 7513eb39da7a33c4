package outbound

import (
	"fmt"

	"github.com/tucanlink/wacloud/shared/fault"
)

// Request is the body of POST /{phone-number-id}/messages, shaped like the
// request examples of Meta's sendMessage operation.
type Request struct {
	MessagingProduct string `json:"messaging_product"`
	RecipientType    string `json:"recipient_type,omitempty"`
	To               string `json:"to,omitempty"`
	Recipient        string `json:"recipient,omitempty"` // a business-scoped user id
	Type             string `json:"type,omitempty"`
	Context          *struct {
		MessageID string `json:"message_id"`
	} `json:"context,omitempty"`

	Text        *requestText `json:"text,omitempty"`
	Template    *Template    `json:"template,omitempty"`
	Image       *Media       `json:"image,omitempty"`
	Video       *Media       `json:"video,omitempty"`
	Audio       *Media       `json:"audio,omitempty"`
	Document    *Media       `json:"document,omitempty"`
	Sticker     *Media       `json:"sticker,omitempty"`
	Location    *Location    `json:"location,omitempty"`
	Contacts    []Contact    `json:"contacts,omitempty"`
	Interactive *Interactive `json:"interactive,omitempty"`
	Reaction    *Reaction    `json:"reaction,omitempty"`

	// Read receipts and typing indicators.
	Status          string `json:"status,omitempty"`
	MessageID       string `json:"message_id,omitempty"`
	TypingIndicator *struct {
		Type string `json:"type"`
	} `json:"typing_indicator,omitempty"`
}

// requestText always carries preview_url, as Meta's examples do.
type requestText struct {
	Body       string `json:"body"`
	PreviewURL bool   `json:"preview_url"`
}

// Build turns a validated job into the Graph request body. Media given as
// s3:// references must have been resolved (to a media id or a link)
// first; an unresolved one is an error, never sent to Meta.
func Build(j Job) (Request, error) {
	for _, ref := range j.MediaRefs() {
		if ref.Media.IsS3() {
			return Request{}, fault.Invalidf("build job %s: %s media %s was not resolved", j.JobID, ref.Kind, ref.Media.Link)
		}
	}
	r := Request{MessagingProduct: "whatsapp"}
	switch j.Type {
	case TypeRead, TypeTyping:
		r.Status = "read"
		if j.Type == TypeRead {
			r.MessageID = j.Read.MessageID
		} else {
			r.MessageID = j.Typing.MessageID
			r.TypingIndicator = &struct {
				Type string `json:"type"`
			}{Type: "text"}
		}
		return r, nil
	}
	// to goes out as the core wrote it (Meta accepts it with or without +).
	// A contact known only by its business-scoped user id goes in recipient
	// (Meta takes to first when both are given).
	r.RecipientType, r.To, r.Recipient, r.Type = "individual", j.To, j.Recipient, j.Type
	if j.ReplyTo != "" {
		r.Context = &struct {
			MessageID string `json:"message_id"`
		}{MessageID: j.ReplyTo}
	}
	switch j.Type {
	case TypeText:
		r.Text = &requestText{Body: j.Text.Body, PreviewURL: j.Text.PreviewURL}
	case TypeTemplate:
		r.Template = j.Template
	case TypeImage:
		r.Image = j.Image
	case TypeVideo:
		r.Video = j.Video
	case TypeAudio:
		r.Audio = j.Audio
	case TypeDocument:
		r.Document = j.Document
	case TypeSticker:
		r.Sticker = j.Sticker
	case TypeLocation:
		r.Location = j.Location
	case TypeContacts:
		r.Contacts = j.Contacts
	case TypeInteractive:
		r.Interactive = j.Interactive
	case TypeReaction:
		r.Reaction = j.Reaction
	default:
		return Request{}, fault.Invalidf("build job %s: unsupported type %q", j.JobID, j.Type)
	}
	if err := r.check(); err != nil {
		return Request{}, fault.InvalidErr(fmt.Errorf("build job %s: %w", j.JobID, err))
	}
	return r, nil
}

func (r Request) check() error {
	n := 0
	for _, set := range []bool{r.Text != nil, r.Template != nil, r.Image != nil, r.Video != nil, r.Audio != nil,
		r.Document != nil, r.Sticker != nil, r.Location != nil, r.Contacts != nil, r.Interactive != nil, r.Reaction != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return fmt.Errorf("a %s message needs exactly one content object, found %d", r.Type, n)
	}
	return nil
}
