package graphsim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/mail"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"
)

// Profile is a business number's WhatsApp business profile as GET
// /{phone-number-id}/whatsapp_business_profile shows it.
type Profile struct {
	About             string   `json:"about,omitempty"`
	Address           string   `json:"address,omitempty"`
	Description       string   `json:"description,omitempty"`
	Email             string   `json:"email,omitempty"`
	ProfilePictureURL string   `json:"profile_picture_url,omitempty"`
	Websites          []string `json:"websites,omitempty"`
	Vertical          string   `json:"vertical,omitempty"`
}

// Verticals are Meta's business profile industries.
var Verticals = []string{"OTHER", "AUTO", "BEAUTY", "APPAREL", "EDU", "ENTERTAIN", "EVENT_PLAN", "FINANCE", "GROCERY", "GOVT",
	"HOTEL", "HEALTH", "NONPROFIT", "PROF_SERVICES", "RETAIL", "TRAVEL", "RESTAURANT", "ALCOHOL", "ONLINE_GAMBLING",
	"PHYSICAL_GAMBLING", "OTC_DRUGS"}

// Meta's business profile limits, in characters.
const (
	MaxAbout       = 139
	MaxAddress     = 256
	MaxDescription = 512
	MaxEmail       = 128
	MaxWebsite     = 256
	MaxWebsites    = 2
)

var profileFields = []string{"messaging_product", "about", "address", "description", "email", "profile_picture_url", "websites", "vertical"}

// routeProfiles serves POST /{version}/{phone-number-id}/whatsapp_business_profile;
// the GET shares GET /{version}/{id}/{edge} (templates.go).
func (s *Sim) routeProfiles(mux *http.ServeMux) {
	mux.HandleFunc("POST /{version}/{id}/whatsapp_business_profile", s.handleProfileUpdate)
}

func (s *Sim) profileLocked(id string) *Profile {
	if s.profiles == nil {
		s.profiles = map[string]*Profile{}
	}
	p, ok := s.profiles[id]
	if !ok {
		p = &Profile{About: "Hey there! I am using WhatsApp.", Vertical: "OTHER"}
		s.profiles[id] = p
	}
	return p
}

// handleProfileGet answers GET /{version}/{phone-number-id}/whatsapp_business_profile
// in the reference's shape: {"data":[{"business_profile":{…}}]}, with
// ?fields= as Meta reads it.
func (s *Sim) handleProfileGet(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, ok := s.authorize(w, r, id); !ok {
		return
	}
	fields := profileFields
	if f := r.URL.Query().Get("fields"); f != "" {
		fields = strings.Split(f, ",")
		for _, name := range fields {
			if !slices.Contains(profileFields, name) {
				writeError(w, http.StatusBadRequest, 100, "OAuthException",
					fmt.Sprintf("(#100) Tried accessing nonexisting field (%s) on node type (WhatsAppBusinessProfile)", name), "")
				return
			}
		}
	}
	s.mu.Lock()
	p := *s.profileLocked(id)
	p.Websites = slices.Clone(p.Websites)
	s.mu.Unlock()
	var all map[string]any
	b, _ := json.Marshal(p)
	_ = json.Unmarshal(b, &all)
	all["messaging_product"] = "whatsapp"
	out := map[string]any{}
	for _, f := range fields {
		if v, ok := all[f]; ok {
			out[f] = v
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": []any{map[string]any{"business_profile": out}}})
}

// profileUpdate is the body of POST …/whatsapp_business_profile.
type profileUpdate struct {
	MessagingProduct     string    `json:"messaging_product"`
	About                *string   `json:"about"`
	Address              *string   `json:"address"`
	Description          *string   `json:"description"`
	Email                *string   `json:"email"`
	Websites             *[]string `json:"websites"`
	Vertical             *string   `json:"vertical"`
	ProfilePictureHandle *string   `json:"profile_picture_handle"`
}

// handleProfileUpdate applies POST …/whatsapp_business_profile after
// Meta's checks; a refused update changes nothing.
func (s *Sim) handleProfileUpdate(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, ok := s.authorize(w, r, id); !ok {
		return
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	var u profileUpdate
	if err := dec.Decode(&u); err != nil {
		writeError(w, http.StatusBadRequest, 100, "OAuthException", "(#100) Invalid parameter", err.Error())
		return
	}
	if u.MessagingProduct != "whatsapp" {
		writeError(w, http.StatusBadRequest, 100, "OAuthException", "(#100) The parameter messaging_product is required.", "")
		return
	}
	if msg := profileProblem(u); msg != "" {
		writeError(w, http.StatusBadRequest, 100, "OAuthException", "(#100) Invalid parameter", msg)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	picture := ""
	if u.ProfilePictureHandle != nil {
		var ok bool
		if picture, ok = s.uploadedHandle(*u.ProfilePictureHandle); !ok {
			writeError(w, http.StatusBadRequest, 100, "OAuthException", "(#100) Invalid parameter",
				"profile_picture_handle is not the handle of an uploaded image")
			return
		}
	}
	p := s.profileLocked(id)
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	set(&p.About, u.About)
	set(&p.Address, u.Address)
	set(&p.Description, u.Description)
	set(&p.Email, u.Email)
	set(&p.Vertical, u.Vertical)
	if u.Websites != nil {
		p.Websites = slices.Clone(*u.Websites)
	}
	if picture != "" {
		p.ProfilePictureURL = picture
	}
	writeJSON(w, http.StatusOK, map[string]bool{"success": true})
}

// profileProblem is Meta's reason to refuse an update, "" when none.
func profileProblem(u profileUpdate) string {
	over := func(name string, v *string, max int) string {
		if v != nil && utf8.RuneCountInString(*v) > max {
			return fmt.Sprintf("Param %s must be at most %d characters long.", name, max)
		}
		return ""
	}
	for _, p := range []string{over("about", u.About, MaxAbout), over("address", u.Address, MaxAddress),
		over("description", u.Description, MaxDescription), over("email", u.Email, MaxEmail)} {
		if p != "" {
			return p
		}
	}
	if u.About != nil && *u.About == "" {
		return "Param about must be at least 1 character long."
	}
	if u.Email != nil && *u.Email != "" {
		if a, err := mail.ParseAddress(*u.Email); err != nil || a.Address != *u.Email {
			return "Param email must be a valid email address."
		}
	}
	if u.Vertical != nil && *u.Vertical != "" && !slices.Contains(Verticals, *u.Vertical) {
		return fmt.Sprintf("Param vertical must be one of {%s}.", strings.Join(Verticals, ", "))
	}
	if u.Websites != nil {
		if len(*u.Websites) > MaxWebsites {
			return fmt.Sprintf("Param websites must have at most %d elements.", MaxWebsites)
		}
		for _, site := range *u.Websites {
			if !ValidWebsite(site) {
				return fmt.Sprintf("Param websites[] must be an http or https URL of at most %d characters.", MaxWebsite)
			}
		}
	}
	return ""
}

// ValidWebsite reports whether Meta takes site as a profile website.
func ValidWebsite(site string) bool {
	u, err := url.Parse(site)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && utf8.RuneCountInString(site) <= MaxWebsite
}
