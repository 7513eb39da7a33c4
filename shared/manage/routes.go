package manage

// Routes lists every route of the API. A route group lives in a file of its
// own (messages.go, uploads.go, templates.go, …) and adds its list here; template.yaml declares the
// same routes as ApiFunction events behind the JWT authorizer, and
// TestTemplateDeclaresEveryRoute holds the two to each other.
func (h *Handler) Routes() []Route {
	var out []Route
	for _, group := range [][]Route{
		h.messageRoutes(),
		h.uploadRoutes(),
		h.templateRoutes(),
		h.numberRoutes(),
		h.profileRoutes(),
		h.blockRoutes(),
		h.onboardingRoutes(),
		h.campaignRoutes(),
		h.suppressionRoutes(),
	} {
		out = append(out, group...)
	}
	return out
}
