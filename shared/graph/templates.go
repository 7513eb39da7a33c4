package graph

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
)

// MessageTemplate is a message template as GET
// /{waba-id}/message_templates lists it; Components are kept as Meta sent
// them.
type MessageTemplate struct {
	ID              string          `json:"id"`
	Name            string          `json:"name"`
	Language        string          `json:"language"`
	Status          string          `json:"status"`
	Category        string          `json:"category"`
	ParameterFormat string          `json:"parameter_format,omitempty"`
	Components      json.RawMessage `json:"components,omitempty"`
	QualityScore    *struct {
		Score string `json:"score"`
	} `json:"quality_score,omitempty"`
}

// TemplatePage is one page of a WABA's templates; After is the cursor of
// the next page, "" on the last.
type TemplatePage struct {
	Templates []MessageTemplate
	After     string
}

// templateFields are the fields the catalog keeps.
const templateFields = "id,name,language,status,category,parameter_format,components,quality_score"

// MessageTemplates reads one page (up to 100) of the WABA's templates,
// after the cursor after ("" for the first page). Errors are *Error.
func (c *Client) MessageTemplates(ctx context.Context, token, wabaID, after string) (TemplatePage, error) {
	q := url.Values{"fields": {templateFields}, "limit": {"100"}}
	if after != "" {
		q.Set("after", after)
	}
	var out struct {
		Data   []MessageTemplate `json:"data"`
		Paging struct {
			Cursors struct {
				After string `json:"after"`
			} `json:"cursors"`
			Next string `json:"next"`
		} `json:"paging"`
	}
	if err := c.DoJSON(ctx, token, "GET", "/"+url.PathEscape(wabaID)+"/message_templates?"+q.Encode(), nil, &out); err != nil {
		return TemplatePage{}, fmt.Errorf("list templates of WABA %s: %w", wabaID, err)
	}
	p := TemplatePage{Templates: out.Data}
	// Meta gives paging.next only while more pages follow.
	if out.Paging.Next != "" {
		p.After = out.Paging.Cursors.After
	}
	return p, nil
}

// CreatedTemplate is Meta's answer to a template creation.
type CreatedTemplate struct {
	ID       string `json:"id"`
	Status   string `json:"status"`
	Category string `json:"category"`
}

// CreateTemplate submits a template for review (POST
// /{waba-id}/message_templates); body is Meta's create shape. Errors are
// *Error.
func (c *Client) CreateTemplate(ctx context.Context, token, wabaID string, body any) (CreatedTemplate, error) {
	var out CreatedTemplate
	if err := c.DoJSON(ctx, token, "POST", "/"+url.PathEscape(wabaID)+"/message_templates", body, &out); err != nil {
		return CreatedTemplate{}, fmt.Errorf("create template in WABA %s: %w", wabaID, err)
	}
	return out, nil
}

// DeleteTemplate deletes the WABA's template name in every language, or
// only the one with Meta's id hsmID when given (DELETE
// /{waba-id}/message_templates). Errors are *Error.
func (c *Client) DeleteTemplate(ctx context.Context, token, wabaID, name, hsmID string) error {
	q := url.Values{"name": {name}}
	if hsmID != "" {
		q.Set("hsm_id", hsmID)
	}
	if err := c.DoJSON(ctx, token, "DELETE", "/"+url.PathEscape(wabaID)+"/message_templates?"+q.Encode(), nil, nil); err != nil {
		return fmt.Errorf("delete template %s of WABA %s: %w", name, wabaID, err)
	}
	return nil
}

// Meta's error subcodes of the template endpoints.
const (
	SubcodeTemplateNotFound = 2593002 // deleting a template the WABA does not have
	SubcodeTemplateExists   = 2388024 // creating a name and language the WABA has
)
