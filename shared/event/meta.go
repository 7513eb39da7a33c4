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
	Text        *metaText         `json:"text"`
	Image       *metaMedia        `json:"image"`
	Video       *metaMedia        `json:"video"`
	Audio       *metaMedia        `json:"audio"`
	Document    *metaMedia        `json:"document"`
	Sticker     *metaMedia        `json:"sticker"`
	Location    *metaLocation     `json:"location"`
	Contacts    []metaContactCard `json:"contacts"`
	Interactive *metaInteractive  `json:"interactive"`
	Button      *metaButton       `json:"button"`
	Reaction    *metaReaction     `json:"reaction"`
	Order       *metaOrder        `json:"order"`
}

type metaText struct {
	Body       flexString `json:"body"`
	PreviewURL flexBool   `json:"preview_url"`
}

type metaMedia struct {
	ID       flexString `json:"id"`
	MimeType string     `json:"mime_type"`
	SHA256   string     `json:"sha256"`
	Filename flexString `json:"filename"`
	Caption  flexString `json:"caption"`
	Voice    flexBool   `json:"voice"`
	Animated flexBool   `json:"animated"`
	URL      string     `json:"url"`
}

type metaLocation struct {
	Latitude  flexFloat  `json:"latitude"`
	Longitude flexFloat  `json:"longitude"`
	Name      flexString `json:"name"`
	Address   flexString `json:"address"`
	URL       string     `json:"url"`
}

type metaButton struct {
	Payload flexString `json:"payload"`
	Text    flexString `json:"text"`
}

type metaContactCard struct {
	Name      ContactName          `json:"name"`
	Phones    []metaPhone          `json:"phones"`
	Emails    []ContactEmail       `json:"emails"`
	Addresses []metaContactAddress `json:"addresses"`
	URLs      []ContactURL         `json:"urls"`
	Org       *ContactOrg          `json:"org"`
	Birthday  flexString           `json:"birthday"`
}

type metaPhone struct {
	Phone flexString `json:"phone"`
	WaID  flexString `json:"wa_id"`
	Type  string     `json:"type"`
}

type metaContactAddress struct {
	Street      flexString `json:"street"`
	City        string     `json:"city"`
	State       string     `json:"state"`
	Zip         flexString `json:"zip"`
	Country     string     `json:"country"`
	CountryCode string     `json:"country_code"`
	Type        string     `json:"type"`
}

type metaInteractive struct {
	Type        string `json:"type"`
	ButtonReply *struct {
		ID    flexString `json:"id"`
		Title flexString `json:"title"`
	} `json:"button_reply"`
	ListReply *struct {
		ID          flexString `json:"id"`
		Title       flexString `json:"title"`
		Description flexString `json:"description"`
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
	CatalogID    flexString      `json:"catalog_id"`
	Text         flexString      `json:"text"`
	ProductItems []metaOrderItem `json:"product_items"`
}

type metaOrderItem struct {
	ProductRetailerID flexString `json:"product_retailer_id"`
	Quantity          flexInt    `json:"quantity"`
	ItemPrice         flexFloat  `json:"item_price"`
	Currency          string     `json:"currency"`
}

type metaReferral struct {
	SourceURL      string     `json:"source_url"`
	SourceType     string     `json:"source_type"`
	SourceID       flexString `json:"source_id"`
	Headline       flexString `json:"headline"`
	Body           flexString `json:"body"`
	MediaType      string     `json:"media_type"`
	ImageURL       string     `json:"image_url"`
	VideoURL       string     `json:"video_url"`
	ThumbnailURL   string     `json:"thumbnail_url"`
	CtwaClid       flexString `json:"ctwa_clid"`
	WelcomeMessage *struct {
		Text string `json:"text"`
	} `json:"welcome_message"`
}

type metaContext struct {
	ID                  string     `json:"id"`
	From                flexString `json:"from"`
	Forwarded           flexBool   `json:"forwarded"`
	FrequentlyForwarded flexBool   `json:"frequently_forwarded"`
	ReferredProduct     *struct {
		CatalogID         flexString `json:"catalog_id"`
		ProductRetailerID flexString `json:"product_retailer_id"`
	} `json:"referred_product"`
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
	Acknowledged     flexBool   `json:"acknowledged"`
	CreatedTimestamp flexString `json:"created_timestamp"`
	Hash             string     `json:"hash"`
}

type metaError struct {
	Code      flexInt `json:"code"`
	Title     string  `json:"title"`
	Message   string  `json:"message"`
	Details   string  `json:"details"`
	Href      string  `json:"href"`
	ErrorData *struct {
		Details string `json:"details"`
	} `json:"error_data"`
}

func (e metaError) event() Error {
	out := Error{Code: int(e.Code), Title: e.Title, Message: e.Message, Details: e.Details, Href: e.Href}
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
