package graph

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/tucanlink/wacloud/shared/fault"
)

// SendResult is Meta's answer to POST /{phone-number-id}/messages: the
// recipient and the new message's wamid, or {"success": true} for a read
// receipt or typing indicator.
type SendResult struct {
	MessagingProduct string `json:"messaging_product,omitempty"`
	Contacts         []struct {
		Input string `json:"input"`
		WaID  string `json:"wa_id"`
	} `json:"contacts,omitempty"`
	Messages []struct {
		ID            string `json:"id"`
		MessageStatus string `json:"message_status,omitempty"`
	} `json:"messages,omitempty"`
	Success bool `json:"success,omitempty"`
}

// WAMID is the id of the message Meta accepted, or "".
func (r SendResult) WAMID() string {
	if len(r.Messages) == 0 {
		return ""
	}
	return r.Messages[0].ID
}

// RecipientWaID is the WhatsApp id Meta resolved the recipient to (it can
// differ from the number the request named, for example Brazilian numbers
// without the ninth digit), or "".
func (r SendResult) RecipientWaID() string {
	if len(r.Contacts) == 0 {
		return ""
	}
	return strings.TrimSpace(r.Contacts[0].WaID)
}

// SendMessage posts body (a request shaped like Meta's sendMessage
// examples) from the business number phoneNumberID. A 2xx answer without a
// wamid or success flag is returned as an *Error whose MayHaveActed is
// true: Meta answered, so the message must not be sent again.
func (c *Client) SendMessage(ctx context.Context, token, phoneNumberID string, body any) (SendResult, error) {
	if !numericID(phoneNumberID) {
		return SendResult{}, fault.Invalidf("send message: phone number id %q is not numeric", phoneNumberID)
	}
	var res SendResult
	path := "/" + phoneNumberID + "/messages"
	if err := c.DoJSON(ctx, token, http.MethodPost, path, body, &res); err != nil {
		return SendResult{}, err
	}
	if res.WAMID() == "" && !res.Success {
		return SendResult{}, &Error{Op: http.MethodPost + " " + path, HTTPStatus: http.StatusOK,
			Message: fmt.Sprintf("answer has neither a message id nor success (%d messages)", len(res.Messages))}
	}
	return res, nil
}

func numericID(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
