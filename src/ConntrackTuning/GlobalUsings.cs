// The namespaces nearly every file of this project uses, said once here instead of at the head of each file.
global using System;
global using System.Collections.Generic;
global using System.Globalization;
global using System.IO;
global using System.Linq;
global using System.Text;
global using System.Threading;
global using System.Management.Automation;
global using ConntrackTuning.Engine;
global using ConntrackTuning.Engine.Platform;
