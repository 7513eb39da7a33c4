package event

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// The shapes Meta sends, as far as Normalize reads them. They stay private:
// the contract is Message, not Meta's format.

// flexString accepts a JSON string or number: Meta's own samples send
// timestamps and ids both ways.
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		return nil
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("want a string or a number, got %s", b)
	}
	*f = flexString(n)
	return nil
}

type metaMessage struct {
	ID         flexString `json:"id"`
	Type       string     `json:"type"`
	Timestamp  flexString `json:"timestamp"`
	From       flexString `json:"from"`
	FromUserID string     `json:"from_user_id"`
	To         flexString `json:"to"`
	ToUserID   string     `json:"to_user_id"`
	GroupID    string     `json:"group_id"`
	metaContent
	Context     *metaContext  `json:"context"`
	Referral    *metaReferral `json:"referral"`
	Edit        *metaEdit     `json:"edit"`
	Revoke      *metaRevoke   `json:"revoke"`
	System      *metaSystem   `json:"system"`
	Identity    *metaIdentity `json:"identity"`
	Unsupported *Unsupported  `json:"unsupported"`
	Errors      []metaError   `json:"errors"`
}

// metaContent is what a message says; an edit carries a second one.
type metaContent struct {
	Text        *Text             `json:"text"`
	Image       *metaMedia        `json:"image"`
	Video       *metaMedia        `json:"video"`
	Audio       *metaMedia        `json:"audio"`
	Document    *metaMedia        `json:"document"`
	Sticker     *metaMedia        `json:"sticker"`
	Location    *Location         `json:"location"`
	Contacts    []metaContactCard `json:"contacts"`
	Interactive *metaInteractive  `json:"interactive"`
	Button      *Button           `json:"button"`
	Reaction    *metaReaction     `json:"reaction"`
	Order       *metaOrder        `json:"order"`
}

type metaMedia struct {
	ID       flexString `json:"id"`
	MimeType string     `json:"mime_type"`
	SHA256   string     `json:"sha256"`
	Filename string     `json:"filename"`
	Caption  string     `json:"caption"`
	Voice    bool       `json:"voice"`
	Animated bool       `json:"animated"`
	URL      string     `json:"url"`
}

type metaContactCard struct {
	Name      ContactName      `json:"name"`
	Phones    []metaPhone      `json:"phones"`
	Emails    []ContactEmail   `json:"emails"`
	Addresses []ContactAddress `json:"addresses"`
	URLs      []ContactURL     `json:"urls"`
	Org       *ContactOrg      `json:"org"`
	Birthday  string           `json:"birthday"`
}

type metaPhone struct {
	Phone string     `json:"phone"`
	WaID  flexString `json:"wa_id"`
	Type  string     `json:"type"`
}

type metaInteractive struct {
	Type        string `json:"type"`
	ButtonReply *struct {
		ID    string `json:"id"`
		Title string `json:"title"`
	} `json:"button_reply"`
	ListReply *struct {
		ID          string `json:"id"`
		Title       string `json:"title"`
		Description string `json:"description"`
	} `json:"list_reply"`
	NFMReply *struct {
		Name         string `json:"name"`
		Body         string `json:"body"`
		ResponseJSON string `json:"response_json"`
	} `json:"nfm_reply"`
}

type metaReaction struct {
	MessageID string  `json:"message_id"`
	Emoji     *string `json:"emoji"`
}

type metaOrder struct {
	CatalogID    string      `json:"catalog_id"`
	Text         string      `json:"text"`
	ProductItems []OrderItem `json:"product_items"`
}

type metaReferral struct {
	Referral
	WelcomeMessage *struct {
		Text string `json:"text"`
	} `json:"welcome_message"`
}

type metaContext struct {
	ID                  string           `json:"id"`
	From                flexString       `json:"from"`
	Forwarded           bool             `json:"forwarded"`
	FrequentlyForwarded bool             `json:"frequently_forwarded"`
	ReferredProduct     *ReferredProduct `json:"referred_product"`
}

type metaEdit struct {
	OriginalMessageID string `json:"original_message_id"`
	Message           *struct {
		Type    string       `json:"type"`
		Context *metaContext `json:"context"`
		metaContent
	} `json:"message"`
}

type metaRevoke struct {
	OriginalMessageID string `json:"original_message_id"`
}

type metaSystem struct {
	Type     string          `json:"type"`
	Body     string          `json:"body"`
	WaID     flexString      `json:"wa_id"`
	NewWaID  flexString      `json:"new_wa_id"`
	Customer string          `json:"customer"`
	Identity json.RawMessage `json:"identity"`
}

type metaIdentity struct {
	Acknowledged     bool       `json:"acknowledged"`
	CreatedTimestamp flexString `json:"created_timestamp"`
	Hash             string     `json:"hash"`
}

type metaError struct {
	Code      int    `json:"code"`
	Title     string `json:"title"`
	Message   string `json:"message"`
	Details   string `json:"details"`
	Href      string `json:"href"`
	ErrorData *struct {
		Details string `json:"details"`
	} `json:"error_data"`
}

func (e metaError) event() Error {
	out := Error{Code: e.Code, Title: e.Title, Message: e.Message, Details: e.Details, Href: e.Href}
	if out.Details == "" && e.ErrorData != nil {
		out.Details = e.ErrorData.Details
	}
	return out
}

type metaContact struct {
	WaID         flexString `json:"wa_id"`
	UserID       string     `json:"user_id"`
	ParentUserID string     `json:"parent_user_id"`
	Profile      struct {
		Name     string `json:"name"`
		Username string `json:"username"`
	} `json:"profile"`
}
