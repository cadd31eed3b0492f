//go:build unix

package viz

import (
	"encoding/gob"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/janpfeifer/gonb/gonbui"
	"github.com/janpfeifer/gonb/gonbui/protocol"
)

// fakeKernel plays GoNB's side of the two named pipes gonbui talks through. gonbui keeps its pipes for
// the life of the process, so the fake kernel is set up once and shared.
var fakeKernel struct {
	once sync.Once
	msgs chan *protocol.DisplayData
	err  error
}

func startFakeKernel(t *testing.T) chan *protocol.DisplayData {
	t.Helper()
	fakeKernel.once.Do(func() {
		dir, err := os.MkdirTemp("", "viz-gonb")
		if err != nil {
			fakeKernel.err = err
			return
		}
		toKernel, fromKernel := filepath.Join(dir, "pipe"), filepath.Join(dir, "back")
		for _, p := range []string{toKernel, fromKernel} {
			if err := syscall.Mkfifo(p, 0o600); err != nil {
				fakeKernel.err = err
				return
			}
		}
		os.Setenv(protocol.GONB_PIPE_ENV, toKernel)
		os.Setenv(protocol.GONB_PIPE_BACK_ENV, fromKernel)
		fakeKernel.msgs = make(chan *protocol.DisplayData, 16)
		acks := make(chan int, 16)
		go func() {
			r, err := os.OpenFile(toKernel, os.O_RDONLY, 0)
			if err != nil {
				close(fakeKernel.msgs)
				return
			}
			dec := gob.NewDecoder(r)
			for {
				var d protocol.DisplayData
				if err := dec.Decode(&d); err != nil {
					close(fakeKernel.msgs)
					return
				}
				// gonbui.Sync asks for an acknowledgement, as GoNB gives; everything else is a display.
				var cv protocol.CommValue
				switch v := d.Data[protocol.MIMECommValue].(type) {
				case protocol.CommValue:
					cv = v
				case *protocol.CommValue:
					cv = *v
				}
				if cv.Address == protocol.GonbuiSyncAddress {
					if id, ok := cv.Value.(int); ok {
						acks <- id
					}
					continue
				}
				fakeKernel.msgs <- &d
			}
		}()
		go func() {
			// Hold the back pipe open so gonbui's reader does not see EOF, and answer sync requests.
			w, err := os.OpenFile(fromKernel, os.O_WRONLY, 0)
			if err != nil {
				return
			}
			defer w.Close()
			enc := gob.NewEncoder(w)
			for id := range acks {
				if err := enc.Encode(&protocol.CommValue{Address: protocol.GonbuiSyncAckAddress, Value: id}); err != nil {
					return
				}
			}
		}()
	})
	if fakeKernel.err != nil {
		t.Fatalf("fake kernel: %v", fakeKernel.err)
	}
	return fakeKernel.msgs
}

func receive(t *testing.T, msgs chan *protocol.DisplayData) *protocol.DisplayData {
	t.Helper()
	select {
	case d, ok := <-msgs:
		if !ok {
			t.Fatal("fake kernel pipe closed")
		}
		return d
	case <-time.After(20 * time.Second):
		t.Fatal("nothing displayed within 20 s")
	}
	return nil
}

func TestDisplayInNotebookSendsPNGSVGAndHTML(t *testing.T) {
	msgs := startFakeKernel(t)
	gonbui.IsNotebook = true
	t.Cleanup(func() { gonbui.IsNotebook = false })

	c, err := ROC(powCurve("in-notebook", 0.5, 20))
	if err != nil {
		t.Fatal(err)
	}
	if err := Display(c); err != nil {
		t.Fatal(err)
	}
	d := receive(t, msgs)
	data, ok := d.Data[protocol.MIMEImagePNG].([]byte)
	if !ok {
		t.Fatalf("Display sent %v, want image/png bytes", d.Data)
	}
	if b := decodePNG(t, data).Bounds(); b.Dx() != 709 {
		t.Errorf("displayed PNG is %v", b)
	}

	if err := DisplaySVG(c); err != nil {
		t.Fatal(err)
	}
	d = receive(t, msgs)
	html, _ := d.Data[protocol.MIMETextHTML].(string)
	if !strings.Contains(html, "<svg") || !strings.Contains(html, "in-notebook (AUROC") {
		t.Errorf("DisplaySVG sent %.200q", html)
	}

	tb := NewTable("t", "method")
	_ = tb.AddRow("<b>x</b>")
	if err := DisplayHTML(tb); err != nil {
		t.Fatal(err)
	}
	d = receive(t, msgs)
	html, _ = d.Data[protocol.MIMETextHTML].(string)
	if !strings.Contains(html, "<table") || !strings.Contains(html, "&lt;b&gt;x&lt;/b&gt;") {
		t.Errorf("DisplayHTML sent %.200q", html)
	}
}
