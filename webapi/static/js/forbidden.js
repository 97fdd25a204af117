// The page that says a role is missing; common.js wires the header (sign out).
import './common.js';
