package graph

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
)

// PhoneNumber is a business number as GET /{phone-number-id} describes it.
type PhoneNumber struct {
	ID                     string `json:"id"`
	DisplayPhoneNumber     string `json:"display_phone_number"`
	VerifiedName           string `json:"verified_name"`
	NameStatus             string `json:"name_status"`
	CodeVerificationStatus string `json:"code_verification_status"`
	QualityRating          string `json:"quality_rating"`
	MessagingLimitTier     string `json:"messaging_limit_tier"`
	Throughput             struct {
		Level string `json:"level"`
	} `json:"throughput"`
	LastOnboardedTime string `json:"last_onboarded_time"`
	Status            string `json:"status"`
	PlatformType      string `json:"platform_type"`
	IsOnBizApp        bool   `json:"is_on_biz_app"`
}

const phoneNumberFields = "id,display_phone_number,verified_name,name_status,code_verification_status,quality_rating," +
	"messaging_limit_tier,throughput,last_onboarded_time,status,platform_type,is_on_biz_app"

// PhoneNumber reads a business number's status at Meta. Errors are *Error.
func (c *Client) PhoneNumber(ctx context.Context, token, phoneNumberID string) (PhoneNumber, error) {
	var out PhoneNumber
	q := url.Values{"fields": {phoneNumberFields}}
	if err := c.DoJSON(ctx, token, "GET", "/"+url.PathEscape(phoneNumberID)+"?"+q.Encode(), nil, &out); err != nil {
		return PhoneNumber{}, fmt.Errorf("read phone number %s: %w", phoneNumberID, err)
	}
	return out, nil
}

// BusinessProfile is a number's WhatsApp business profile.
type BusinessProfile struct {
	About             string   `json:"about,omitempty"`
	Address           string   `json:"address,omitempty"`
	Description       string   `json:"description,omitempty"`
	Email             string   `json:"email,omitempty"`
	ProfilePictureURL string   `json:"profile_picture_url,omitempty"`
	Websites          []string `json:"websites,omitempty"`
	Vertical          string   `json:"vertical,omitempty"`
}

// ProfileUpdate is a change to a business profile: nil fields stay as
// they are.
type ProfileUpdate struct {
	MessagingProduct     string    `json:"messaging_product"`
	About                *string   `json:"about,omitempty"`
	Address              *string   `json:"address,omitempty"`
	Description          *string   `json:"description,omitempty"`
	Email                *string   `json:"email,omitempty"`
	Websites             *[]string `json:"websites,omitempty"`
	Vertical             *string   `json:"vertical,omitempty"`
	ProfilePictureHandle *string   `json:"profile_picture_handle,omitempty"`
}

const profileFields = "about,address,description,email,profile_picture_url,websites,vertical"

// BusinessProfile reads a number's business profile. Meta's reference
// answers {"data":[{"business_profile":{…}}]} and its guides show the
// fields directly in data[0]; both are read. Errors are *Error.
func (c *Client) BusinessProfile(ctx context.Context, token, phoneNumberID string) (BusinessProfile, error) {
	var out struct {
		Data []json.RawMessage `json:"data"`
	}
	q := url.Values{"fields": {profileFields}}
	if err := c.DoJSON(ctx, token, "GET", "/"+url.PathEscape(phoneNumberID)+"/whatsapp_business_profile?"+q.Encode(), nil, &out); err != nil {
		return BusinessProfile{}, fmt.Errorf("read business profile of %s: %w", phoneNumberID, err)
	}
	if len(out.Data) == 0 {
		return BusinessProfile{}, nil
	}
	var wrapped struct {
		BusinessProfile *BusinessProfile `json:"business_profile"`
	}
	if err := json.Unmarshal(out.Data[0], &wrapped); err == nil && wrapped.BusinessProfile != nil {
		return *wrapped.BusinessProfile, nil
	}
	var p BusinessProfile
	if err := json.Unmarshal(out.Data[0], &p); err != nil {
		return BusinessProfile{}, fmt.Errorf("read business profile of %s: decode: %w", phoneNumberID, err)
	}
	return p, nil
}

// UpdateBusinessProfile changes a number's business profile. Errors are
// *Error.
func (c *Client) UpdateBusinessProfile(ctx context.Context, token, phoneNumberID string, u ProfileUpdate) error {
	u.MessagingProduct = "whatsapp"
	var out struct {
		Success bool `json:"success"`
	}
	if err := c.DoJSON(ctx, token, "POST", "/"+url.PathEscape(phoneNumberID)+"/whatsapp_business_profile", u, &out); err != nil {
		return fmt.Errorf("update business profile of %s: %w", phoneNumberID, err)
	}
	if !out.Success {
		return fmt.Errorf("update business profile of %s: %w", phoneNumberID, &Error{Op: "POST whatsapp_business_profile", HTTPStatus: 200, Message: "Meta did not answer success"})
	}
	return nil
}

// BlockedUser is a user's result in a block or unblock: wa_id on
// success, Meta's errors on failure.
type BlockedUser struct {
	Input  string       `json:"input"`
	WaID   string       `json:"wa_id,omitempty"`
	Errors []BlockError `json:"errors,omitempty"`
}

// BlockError is why Meta refused to block or unblock one user.
type BlockError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Data    struct {
		Details string `json:"details,omitempty"`
	} `json:"error_data"`
}

// BlockResult is Meta's answer to a block or unblock: the users it
// changed, and those it refused (a partial failure: Meta answers 400
// with code 139100 and both lists).
type BlockResult struct {
	Done   []BlockedUser
	Failed []BlockedUser
}

// CodeBlockFailed is Meta's code of a block or unblock that failed for
// some users.
const CodeBlockFailed = 139100

// BlockUsers blocks (block true) or unblocks users of a number. A
// partial failure answers the result with both lists and a nil error;
// any other failure is an *Error.
func (c *Client) BlockUsers(ctx context.Context, token, phoneNumberID string, block bool, users []string) (BlockResult, error) {
	method, key := "POST", "added_users"
	if !block {
		method, key = "DELETE", "removed_users"
	}
	type user struct {
		User string `json:"user"`
	}
	in := struct {
		MessagingProduct string `json:"messaging_product"`
		BlockUsers       []user `json:"block_users"`
	}{MessagingProduct: "whatsapp"}
	for _, u := range users {
		in.BlockUsers = append(in.BlockUsers, user{u})
	}
	var out struct {
		BlockUsers map[string][]BlockedUser `json:"block_users"`
	}
	op := fmt.Sprintf("%s users of %s", strings.ToLower(method), phoneNumberID)
	err := c.DoJSON(ctx, token, method, "/"+url.PathEscape(phoneNumberID)+"/block_users", in, &out)
	if ge, ok := AsError(err); ok && ge.Code == CodeBlockFailed && len(ge.Raw) > 0 {
		if json.Unmarshal(ge.Raw, &out) == nil && len(out.BlockUsers["failed_users"]) > 0 {
			err = nil
		}
	}
	if err != nil {
		return BlockResult{}, fmt.Errorf("%s: %w", op, err)
	}
	return BlockResult{Done: out.BlockUsers[key], Failed: out.BlockUsers["failed_users"]}, nil
}

// BlockedPage is one page of a number's blocked users; After is the
// cursor of the next page, "" on the last.
type BlockedPage struct {
	WaIDs []string
	After string
}

// BlockedUsers reads one page of a number's blocked users (limit per
// page, after the cursor after, "" for the first). Errors are *Error.
func (c *Client) BlockedUsers(ctx context.Context, token, phoneNumberID string, limit int, after string) (BlockedPage, error) {
	q := url.Values{"limit": {fmt.Sprint(limit)}}
	if after != "" {
		q.Set("after", after)
	}
	var out struct {
		Data []struct {
			WaID string `json:"wa_id"`
		} `json:"data"`
		Paging struct {
			Cursors struct {
				After string `json:"after"`
			} `json:"cursors"`
			Next string `json:"next"`
		} `json:"paging"`
	}
	if err := c.DoJSON(ctx, token, "GET", "/"+url.PathEscape(phoneNumberID)+"/block_users?"+q.Encode(), nil, &out); err != nil {
		return BlockedPage{}, fmt.Errorf("list blocked users of %s: %w", phoneNumberID, err)
	}
	p := BlockedPage{WaIDs: []string{}}
	for _, d := range out.Data {
		p.WaIDs = append(p.WaIDs, d.WaID)
	}
	if out.Paging.Next != "" {
		p.After = out.Paging.Cursors.After
	}
	return p, nil
}

// Meta's business profile rules: limits in characters, and the verticals
// (industries) it takes.
const (
	MaxProfileAbout       = 139
	MaxProfileAddress     = 256
	MaxProfileDescription = 512
	MaxProfileEmail       = 128
	MaxProfileWebsite     = 256
	MaxProfileWebsites    = 2
)

// ProfileVerticals are the industries a business profile may name.
var ProfileVerticals = []string{"OTHER", "AUTO", "BEAUTY", "APPAREL", "EDU", "ENTERTAIN", "EVENT_PLAN", "FINANCE", "GROCERY", "GOVT",
	"HOTEL", "HEALTH", "NONPROFIT", "PROF_SERVICES", "RETAIL", "TRAVEL", "RESTAURANT", "ALCOHOL", "ONLINE_GAMBLING",
	"PHYSICAL_GAMBLING", "OTC_DRUGS"}
