//go:build !unix

package datasets

import "time"

// cpuTime is not measured on this platform; the cpu-ms/image metric reads 0.
func cpuTime() time.Duration { return 0 }
