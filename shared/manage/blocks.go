package manage

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strconv"

	"github.com/tucanlink/wacloud/shared/graph"
	"github.com/tucanlink/wacloud/shared/strictjson"
)

// Error code of the blocked-user routes.
const CodeInvalidUsers = "invalid_users"

// MaxBlockUsers is how many users one block or unblock request may name.
const MaxBlockUsers = 1000

// blockPageLimit is the page size of GET …/blocked-users (default and most).
const blockPageLimit = 100

var blockUser = regexp.MustCompile(`^\+?[0-9]{8,15}$`)

// BlockRequest is the body of POST and DELETE …/blocked-users.
type BlockRequest struct {
	Users []string `json:"users"`
}

// blockedUser is one user Meta blocked or unblocked.
type blockedUser struct {
	Input string `json:"input"`
	WaID  string `json:"wa_id"`
}

// failedUser is one user Meta refused to block or unblock, with Meta's
// error.
type failedUser struct {
	Input   string `json:"input"`
	Code    int    `json:"code"`
	Message string `json:"message"`
	Details string `json:"details"`
}

// blockResult answers POST and DELETE …/blocked-users.
type blockResult struct {
	Done   []blockedUser `json:"done"`
	Failed []failedUser  `json:"failed"`
}

func (h *Handler) blockRoutes() []Route {
	const path = "/v1/tenants/{tenant_id}/phone-numbers/{phone_number_id}/blocked-users"
	return []Route{
		{Method: http.MethodGet, Path: path, Serve: h.listBlocked},
		{Method: http.MethodPost, Path: path, Serve: func(ctx context.Context, r *Request) (Response, *Error) { return h.block(ctx, r, true) }},
		{Method: http.MethodDelete, Path: path, Serve: func(ctx context.Context, r *Request) (Response, *Error) { return h.block(ctx, r, false) }},
	}
}

// listBlocked answers one page of the number's blocked users, as Meta
// pages them: {"data":[{"wa_id"}],"paging":{"after"}}, after null on the
// last page.
func (h *Handler) listBlocked(ctx context.Context, r *Request) (Response, *Error) {
	limit := blockPageLimit
	var problems []string
	for k, v := range r.Query {
		switch k {
		case "limit":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > blockPageLimit {
				problems = append(problems, fmt.Sprintf("limit must be a number from 1 to %d", blockPageLimit))
			}
			limit = n
		case "after":
		default:
			problems = append(problems, fmt.Sprintf("unknown query parameter %q (limit, after)", k))
		}
	}
	if len(problems) > 0 {
		return Response{}, errorf(http.StatusBadRequest, CodeInvalidFilter, "the query has parameters the API does not take", problems...)
	}
	id, token, e := h.tenantNumber(ctx, r)
	if e != nil {
		return Response{}, e
	}
	page, err := h.Meta.BlockedUsers(ctx, token, id, limit, r.Query["after"])
	if err != nil {
		return Response{}, metaError(ctx, r.Log, fmt.Sprintf("Meta could not list the users %s blocked", id), err)
	}
	type user struct {
		WaID string `json:"wa_id"`
	}
	out := struct {
		Data   []user `json:"data"`
		Paging struct {
			After *string `json:"after"`
		} `json:"paging"`
	}{Data: []user{}}
	for _, w := range page.WaIDs {
		out.Data = append(out.Data, user{w})
	}
	if page.After != "" {
		out.Paging.After = &page.After
	}
	return Response{Status: http.StatusOK, Body: out}, nil
}

// block blocks (or unblocks) the users for the number. Users Meta
// refused are listed in failed with Meta's code and text; when Meta
// refused every one the answer is 422 meta_refused. Blocking a blocked
// user or unblocking one who is not blocked succeeds, so a repeated
// request is harmless.
func (h *Handler) block(ctx context.Context, r *Request, block bool) (Response, *Error) {
	var in BlockRequest
	if err := strictjson.Unmarshal(r.Body, &in); err != nil {
		return Response{}, errorf(http.StatusBadRequest, CodeInvalidJSON, `the body must be {"users":["+5511999990001",…]}`, problem(err))
	}
	var problems []string
	if len(in.Users) == 0 || len(in.Users) > MaxBlockUsers {
		problems = append(problems, fmt.Sprintf("users must list 1 to %d phone numbers", MaxBlockUsers))
	}
	for i, u := range in.Users {
		if !blockUser.MatchString(u) {
			problems = append(problems, fmt.Sprintf("users[%d] must be a phone number in E.164 (8 to 15 digits, optional leading +)", i))
		}
	}
	if len(problems) > 0 {
		return Response{}, errorf(http.StatusBadRequest, CodeInvalidUsers, "the users cannot be blocked or unblocked", problems...)
	}
	id, token, e := h.tenantNumber(ctx, r)
	if e != nil {
		return Response{}, e
	}
	verb := "block"
	if !block {
		verb = "unblock"
	}
	res, err := h.Meta.BlockUsers(ctx, token, id, block, in.Users)
	if err != nil {
		return Response{}, metaError(ctx, r.Log, fmt.Sprintf("Meta refused to %s users of %s", verb, id), err)
	}
	out := blockResult{Done: []blockedUser{}, Failed: []failedUser{}}
	for _, u := range res.Done {
		out.Done = append(out.Done, blockedUser{Input: u.Input, WaID: u.WaID})
	}
	var details []string
	for _, u := range res.Failed {
		f := failedUser{Input: u.Input, Code: graph.CodeBlockFailed, Message: "Meta refused the user"}
		if len(u.Errors) > 0 {
			f.Code, f.Message, f.Details = u.Errors[0].Code, u.Errors[0].Message, u.Errors[0].Data.Details
		}
		out.Failed = append(out.Failed, f)
		details = append(details, fmt.Sprintf("%s: meta error %d: %s: %s", f.Input, f.Code, f.Message, f.Details))
	}
	r.Log.InfoContext(ctx, "users "+verb+"ed", "phone_number_id", id, "done", len(out.Done), "failed", len(out.Failed))
	if len(out.Done) == 0 && len(out.Failed) > 0 {
		return Response{}, errorf(http.StatusUnprocessableEntity, CodeMetaRefused, fmt.Sprintf("Meta refused to %s every user", verb), details...)
	}
	return Response{Status: http.StatusOK, Body: out}, nil
}
