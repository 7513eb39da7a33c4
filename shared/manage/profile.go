package manage

import (
	"context"
	"fmt"
	"net/http"
	"net/mail"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/tucanlink/wacloud/shared/graph"
	"github.com/tucanlink/wacloud/shared/strictjson"
)

// CodeInvalidProfile: the profile update breaks Meta's rules.
const CodeInvalidProfile = "invalid_profile"

// Profile is a number's WhatsApp business profile as the API shows it.
type Profile struct {
	About             string   `json:"about"`
	Address           string   `json:"address"`
	Description       string   `json:"description"`
	Email             string   `json:"email"`
	Websites          []string `json:"websites"`
	Vertical          string   `json:"vertical"`
	ProfilePictureURL string   `json:"profile_picture_url"`
}

// ProfileUpdate is the body of POST …/profile: the fields to change (an
// absent one stays as it is).
type ProfileUpdate struct {
	About       *string   `json:"about,omitempty"`
	Address     *string   `json:"address,omitempty"`
	Description *string   `json:"description,omitempty"`
	Email       *string   `json:"email,omitempty"`
	Websites    *[]string `json:"websites,omitempty"`
	Vertical    *string   `json:"vertical,omitempty"`
	// ProfilePicture is an s3:// object of the tenant (JPEG or PNG, see
	// picture.go), uploaded to Meta for the profile.
	ProfilePicture *string `json:"profile_picture,omitempty"`
}

func (h *Handler) profileRoutes() []Route {
	return []Route{
		{Method: http.MethodGet, Path: "/v1/tenants/{tenant_id}/phone-numbers/{phone_number_id}/profile", Serve: h.getProfile},
		{Method: http.MethodPost, Path: "/v1/tenants/{tenant_id}/phone-numbers/{phone_number_id}/profile", Serve: h.updateProfile},
	}
}

// getProfile answers the number's business profile as Meta has it.
func (h *Handler) getProfile(ctx context.Context, r *Request) (Response, *Error) {
	id, token, e := h.tenantNumber(ctx, r)
	if e != nil {
		return Response{}, e
	}
	return h.profileOf(ctx, r, id, token)
}

func (h *Handler) profileOf(ctx context.Context, r *Request, id, token string) (Response, *Error) {
	p, err := h.Meta.BusinessProfile(ctx, token, id)
	if err != nil {
		return Response{}, metaError(ctx, r.Log, fmt.Sprintf("Meta could not read the business profile of %s", id), err)
	}
	websites := p.Websites
	if websites == nil {
		websites = []string{}
	}
	return Response{Status: http.StatusOK, Body: Profile{About: p.About, Address: p.Address, Description: p.Description, Email: p.Email,
		Websites: websites, Vertical: p.Vertical, ProfilePictureURL: p.ProfilePictureURL}}, nil
}

// updateProfile checks the update against Meta's rules, sends it to Meta
// and answers the profile as Meta has it afterwards. Setting the same
// fields again changes nothing, so a repeated request is harmless.
func (h *Handler) updateProfile(ctx context.Context, r *Request) (Response, *Error) {
	var in ProfileUpdate
	if err := strictjson.Unmarshal(r.Body, &in); err != nil {
		return Response{}, errorf(http.StatusBadRequest, CodeInvalidJSON,
			"the body must be a JSON object of about, address, description, email, websites, vertical", problem(err))
	}
	problems := checkProfile(in)
	var pictureKey string
	if in.ProfilePicture != nil {
		key, problem := h.checkPicture(r.Tenant, *in.ProfilePicture)
		if problem != "" {
			problems = append(problems, problem)
		}
		pictureKey = key
	}
	if len(problems) > 0 {
		return Response{}, errorf(http.StatusBadRequest, CodeInvalidProfile, "the profile breaks Meta's rules", problems...)
	}
	id, token, e := h.tenantNumber(ctx, r)
	if e != nil {
		return Response{}, e
	}
	u := graph.ProfileUpdate{About: in.About, Address: in.Address, Description: in.Description, Email: in.Email,
		Websites: in.Websites, Vertical: in.Vertical}
	if pictureKey != "" {
		handle, e := h.pictureHandle(ctx, r, pictureKey, token)
		if e != nil {
			return Response{}, e
		}
		u.ProfilePictureHandle = &handle
	}
	if err := h.Meta.UpdateBusinessProfile(ctx, token, id, u); err != nil {
		return Response{}, metaError(ctx, r.Log, fmt.Sprintf("Meta refused the business profile of %s", id), err)
	}
	r.Log.InfoContext(ctx, "business profile updated", "phone_number_id", id)
	return h.profileOf(ctx, r, id, token)
}

// checkProfile lists every way the update breaks Meta's rules, so none
// reaches Meta.
func checkProfile(in ProfileUpdate) []string {
	var out []string
	if in == (ProfileUpdate{}) {
		return []string{"give at least one of about, address, description, email, websites, vertical, profile_picture"}
	}
	limit := func(name string, v *string, min, max int) {
		if v == nil {
			return
		}
		if n := utf8.RuneCountInString(*v); n > max || n < min {
			out = append(out, fmt.Sprintf("%s must be %d to %d characters (it has %d)", name, min, max, n))
		}
	}
	limit("about", in.About, 1, graph.MaxProfileAbout)
	limit("address", in.Address, 0, graph.MaxProfileAddress)
	limit("description", in.Description, 0, graph.MaxProfileDescription)
	limit("email", in.Email, 0, graph.MaxProfileEmail)
	if in.Email != nil && *in.Email != "" {
		if a, err := mail.ParseAddress(*in.Email); err != nil || a.Address != *in.Email {
			out = append(out, "email must be a plain email address such as contact@example.com")
		}
	}
	if in.Websites != nil {
		if n := len(*in.Websites); n > graph.MaxProfileWebsites {
			out = append(out, fmt.Sprintf("websites takes at most %d URLs (it has %d)", graph.MaxProfileWebsites, n))
		}
		for i, site := range *in.Websites {
			u, err := url.Parse(site)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || utf8.RuneCountInString(site) > graph.MaxProfileWebsite {
				out = append(out, fmt.Sprintf("websites[%d] must be an http:// or https:// URL of at most %d characters", i, graph.MaxProfileWebsite))
			}
		}
	}
	if in.Vertical != nil && !slices.Contains(graph.ProfileVerticals, *in.Vertical) {
		out = append(out, fmt.Sprintf("vertical must be one of %s", strings.Join(graph.ProfileVerticals, ", ")))
	}
	return out
}
