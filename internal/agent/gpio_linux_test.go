package agent

import (
	"testing"
	"unsafe"
)

// The ioctl numbers and struct sizes must match linux/gpio.h exactly, or the kernel
// refuses the request (or worse, reads the wrong bytes). Values from the header.
func TestGPIOUAPILayout(t *testing.T) {
	if s := unsafe.Sizeof(gpioV2LineRequest{}); s != 592 {
		t.Errorf("gpio_v2_line_request is %d bytes, want 592", s)
	}
	if s := unsafe.Sizeof(gpioV2LineValues{}); s != 16 {
		t.Errorf("gpio_v2_line_values is %d bytes, want 16", s)
	}
	if gpioV2GetLineIoctl != 0xC250B407 {
		t.Errorf("GPIO_V2_GET_LINE_IOCTL = %#x, want 0xc250b407", gpioV2GetLineIoctl)
	}
	if gpioV2LineSetValuesIoct != 0xC010B40F {
		t.Errorf("GPIO_V2_LINE_SET_VALUES_IOCTL = %#x, want 0xc010b40f", gpioV2LineSetValuesIoct)
	}
	if _, err := OpenGPIOLine("/nonexistent/gpiochip9", 1); err == nil {
		t.Error("a missing chip is not an error")
	}
}
