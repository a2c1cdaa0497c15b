# multiplexer.tcl --
#
#	Tcl-level part of the multiplexer package, sourced after the shared
#	library is loaded. The C core provides ::multiplexer::create and the
#	instance commands; this file adds small conveniences written in Tcl.

namespace eval ::multiplexer {
    namespace export create
}

# ::multiplexer::instances --
#
#	The live instances of this interpreter.
#
# Results:
#	A list of instance namespaces (::multiplexer::mp0 ...). Arguments
#	are an error {MULTIPLEXER WRONGARGS}, as for the C commands.

proc ::multiplexer::instances {args} {
    if {[llength $args]} {
	return -code error -errorcode {MULTIPLEXER WRONGARGS} \
	    "wrong # args: should be \"::multiplexer::instances\""
    }
    lsort -dictionary [namespace children ::multiplexer]
}
