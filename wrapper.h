/* The C API surface that build.rs hands to bindgen. mysql.h pulls in the
 * installed library's struct layouts; errmsg.h gives the client error codes
 * (CR_*), which src/error.rs uses to decide whether a connection is still
 * usable. */
#include <mysql.h>
#include <errmsg.h>
