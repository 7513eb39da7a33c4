// Package graph is the connector's client for Meta's Graph API (the
// WhatsApp Cloud API): sending messages, resolving and downloading media,
// uploading media. Every failure comes back as an *Error carrying Meta's
// code, classified once (see Classify) into retry, permanent or invalid.
//
// The access token is passed per call and never appears in errors or logs.
package graph
