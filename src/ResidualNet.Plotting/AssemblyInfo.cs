using System;

// Its public types take ResidualNet's diagnostics records, which are not CLS-compliant (TorchSharp is not).
[assembly: CLSCompliant(false)]
