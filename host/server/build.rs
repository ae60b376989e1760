//! Release builds embed the portal's built files (`admin/dist`); rebuild when they change.
fn main() {
    println!("cargo:rerun-if-changed=../../admin/dist");
}
