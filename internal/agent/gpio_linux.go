package agent

import (
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The Linux GPIO character device, uAPI v2 (linux/gpio.h). No maintained Go library for
// it was reachable from this build's module proxy, so the two ioctls the door needs are
// here: request one output line, set its value.
type gpioV2LineAttribute struct {
	ID      uint32
	Padding uint32
	Value   uint64 // flags, values or debounce period, by ID
}

type gpioV2LineConfigAttribute struct {
	Attr gpioV2LineAttribute
	Mask uint64
}

type gpioV2LineConfig struct {
	Flags    uint64
	NumAttrs uint32
	Padding  [5]uint32
	Attrs    [10]gpioV2LineConfigAttribute
}

type gpioV2LineRequest struct {
	Offsets         [64]uint32
	Consumer        [32]byte
	Config          gpioV2LineConfig
	NumLines        uint32
	EventBufferSize uint32
	Padding         [5]uint32
	FD              int32
}

type gpioV2LineValues struct {
	Bits uint64
	Mask uint64
}

const (
	gpioV2LineFlagOutput = 1 << 3
	iocWrite             = 1
	iocRead              = 2
)

func iowr(nr, size uintptr) uintptr { return (iocRead|iocWrite)<<30 | size<<16 | 0xB4<<8 | nr }

var (
	gpioV2GetLineIoctl      = iowr(0x07, unsafe.Sizeof(gpioV2LineRequest{}))
	gpioV2LineSetValuesIoct = iowr(0x0F, unsafe.Sizeof(gpioV2LineValues{}))
)

// CdevLine is one output line requested from /dev/gpiochipN.
type CdevLine struct {
	fd int
}

// OpenGPIOLine requests line offset of chip (e.g. /dev/gpiochip0) as an output, low.
func OpenGPIOLine(chip string, offset uint32) (*CdevLine, error) {
	f, err := os.OpenFile(chip, os.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("gpio: %w", err)
	}
	defer f.Close()
	var req gpioV2LineRequest
	req.Offsets[0] = offset
	req.NumLines = 1
	copy(req.Consumer[:], "gate-agent")
	req.Config.Flags = gpioV2LineFlagOutput
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, f.Fd(), gpioV2GetLineIoctl, uintptr(unsafe.Pointer(&req))); errno != 0 {
		return nil, fmt.Errorf("gpio: request line %d of %s: %w", offset, chip, errno)
	}
	return &CdevLine{fd: int(req.FD)}, nil
}

// SetValue drives the line.
func (l *CdevLine) SetValue(v int) error {
	vals := gpioV2LineValues{Mask: 1}
	if v != 0 {
		vals.Bits = 1
	}
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(l.fd), gpioV2LineSetValuesIoct, uintptr(unsafe.Pointer(&vals))); errno != 0 {
		return fmt.Errorf("gpio: set value: %w", errno)
	}
	return nil
}

// Close releases the line.
func (l *CdevLine) Close() error { return unix.Close(l.fd) }
