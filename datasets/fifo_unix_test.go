//go:build unix

package datasets

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestFIFONamedLikeAnImage: a FIFO named like an image is skipped by the listing and is a clear error
// when opened directly, never a read that blocks forever (issue 15, item 1).
func TestFIFONamedLikeAnImage(t *testing.T) {
	root := mvtecFixture(t)
	fifo := filepath.Join(root, "bottle", "train", "good", "999.png")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		d, err := LoadMVTec(root, "bottle", Options{})
		if err != nil {
			t.Error(err)
			return
		}
		if d.Train.Len() != 5 {
			t.Errorf("train has %d items, want 5 (the FIFO must not be an image)", d.Train.Len())
		}
		skipped := strings.Join(d.Summary().Skipped, " ")
		if !strings.Contains(skipped, "999.png") {
			t.Errorf("FIFO not listed as skipped: %v", d.Summary().Skipped)
		}
		if err := d.Check(); err != nil {
			t.Errorf("Check: %v", err)
		}
		if err := d.CheckPixels(2); err != nil {
			t.Errorf("CheckPixels: %v", err)
		}
		for _, open := range []func() error{
			func() error { _, err := DecodeFile(fifo, 3, Limits{}); return err },
			func() error { _, err := DecodeConfigFile(fifo, Limits{}); return err },
			func() error { _, err := DecodeMaskFile(fifo, Limits{}); return err },
			func() error { _, err := (&DiskSource{}).Load(Item{ID: "x", ImagePath: fifo}); return err },
		} {
			err := open()
			if err == nil || !strings.Contains(err.Error(), "999.png") || !strings.Contains(err.Error(), "not a regular file") {
				t.Errorf("opening the FIFO: %v, want an error naming it as not a regular file", err)
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("hung on a FIFO named like an image")
	}
}
