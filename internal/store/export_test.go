package store

// The change-log encodings, for the tests that read change_log rows the way a sync does.
type (
	FaceTemplateChange = faceTemplateChange
	FacePurgeChange    = facePurgeChange
)
