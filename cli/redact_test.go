package cli

import "testing"

func TestRedact(t *testing.T) {
	tests := map[string]string{
		"postgres://app:s3cr3t-pw@db:5432/app?sslmode=disable": "postgres://app:xxxxx@db:5432/app?sslmode=disable",
		"postgres://app:s3@cr/3t@db/app":                       "postgres://app:xxxxx@db/app",
		"postgres://app:s3cr3t-pw@db:x/app":                    "postgres://app:xxxxx@db:x/app",
		"postgres://app@db/app?password=s3cr3t-pw&x=1":         "postgres://app@db/app?password=xxxxx&x=1",
		"redis://:s3cr3t-pw@cache:6379/0":                      "redis://:xxxxx@cache:6379/0",
		"redis://cache:6379/0":                                 "redis://cache:6379/0",
		"nats://127.0.0.1:4222":                                "nats://127.0.0.1:4222",
		"host=db user=app password=s3cr3t-pw dbname=app":       "host=db user=app password=xxxxx dbname=app",
		"host=db password = 's3cr3t pw' dbname=app":            "host=db password=xxxxx dbname=app",
		`host=db password='s3\'cr3t' dbname=app`:               "host=db password=xxxxx dbname=app",
		"host=db PASSWORD='s3cr3t-pw":                          "host=db password=xxxxx",
		"host=db user=app":                                     "host=db user=app",
	}
	for in, want := range tests {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}
