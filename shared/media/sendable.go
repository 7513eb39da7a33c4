package media

import "slices"

// sendable are the content types Meta accepts for each kind of outbound
// media (Cloud API "Supported media types"; META_RULES.md, "Media").
var sendable = map[string][]string{
	KindImage: {"image/jpeg", "image/png"},
	KindVideo: {"video/mp4", "video/3gpp"},
	KindAudio: {"audio/aac", "audio/amr", "audio/mpeg", "audio/mp4", "audio/ogg"},
	KindDocument: {"text/plain", "application/pdf", "application/msword", "application/vnd.ms-excel", "application/vnd.ms-powerpoint",
		"application/vnd.openxmlformats-officedocument.wordprocessingml.document",
		"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
		"application/vnd.openxmlformats-officedocument.presentationml.presentation"},
	KindSticker: {"image/webp"},
}

// SendableTypes lists the content types Meta accepts for kind (nil for
// an unknown kind).
func SendableTypes(kind string) []string { return slices.Clone(sendable[kind]) }

// Sendable reports whether Meta accepts media of contentType (parameters
// such as "; codecs=opus" ignored) as kind.
func Sendable(kind, contentType string) bool {
	return slices.Contains(sendable[kind], baseType(contentType))
}
