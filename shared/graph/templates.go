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
