// Package media moves WhatsApp media between Meta and the data bucket.
//
// Inbound, Handler is the media function: for each queue.MediaJob it asks
// the Graph API for a fresh download URL, streams the file into S3 (multipart,
// with a bounded part size, so memory does not grow with the file) while
// checking Meta's sha256 and size limits, and reports message.media_ready
// (or message.media_failed) to the core in the message's ordering group.
// Objects live under tenants/{tenant_id}/media/{yyyy}/{mm}/{dd}/{wamid}{ext}.
//
// Outbound, OutboundResolver turns an s3://bucket/key reference of an
// outbound job into what a Graph send needs: a presigned link, or the id of
// a copy uploaded to Meta (cached for as long as Meta keeps it). Keys outside
// the job's tenant prefix are refused.
package media
