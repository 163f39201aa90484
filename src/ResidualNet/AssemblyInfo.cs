using System;

// TorchSharp itself is not CLS-compliant; neither can a library whose public types derive from its modules be.
[assembly: CLSCompliant(false)]
