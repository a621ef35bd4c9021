//! The chapter programs, one per chapter of the tutorial, in reading order.
//!
//! Each is compiled once, here in the library: the `chNN` binaries
//! (`chapters/bin/`) and the tour (`src/main.rs`) both run them from [`ALL`].

use crate::chapter::Program;

#[path = "ch01_background.rs"]
pub mod ch01;
#[path = "ch02_concepts.rs"]
pub mod ch02;
#[path = "ch03_algorithms.rs"]
pub mod ch03;
#[path = "ch04_equations.rs"]
pub mod ch04;
#[path = "ch05_code.rs"]
pub mod ch05;
#[path = "ch06_applications.rs"]
pub mod ch06;
#[path = "ch07_tools.rs"]
pub mod ch07;

/// Every chapter program the tour runs, in its order.
pub const ALL: [&Program; 7] = [
    &ch01::PROGRAM,
    &ch02::PROGRAM,
    &ch03::PROGRAM,
    &ch04::PROGRAM,
    &ch05::PROGRAM,
    &ch06::PROGRAM,
    &ch07::PROGRAM,
];
