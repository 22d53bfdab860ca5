// Carrier for the precompiled header (see pch.hpp); holds no code.
