; Inno Setup script: dist\codatdesk (the PyInstaller onedir) -> dist\codatdesk-<version>-windows-setup.exe
;   iscc /DAppVersion=0.1.0 packaging\windows\codatdesk.iss
; Installs per user by default (no administrator needed; the dialog offers all users).
; The data folder (%LOCALAPPDATA%\codatdesk) is not part of the installation: upgrades and
; uninstalling keep expenses and settings.
#ifndef AppVersion
  #error Pass the version: iscc /DAppVersion=X.Y.Z packaging\windows\codatdesk.iss
#endif

[Setup]
AppId={{6E4D3C1B-2A9F-4B7E-8C5D-0F1E2D3C4B5A}
AppName=codatdesk
AppVersion={#AppVersion}
AppVerName=codatdesk {#AppVersion}
AppPublisher=codatdesk
VersionInfoVersion={#AppVersion}
DefaultDirName={autopf}\codatdesk
DefaultGroupName=codatdesk
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
SourceDir=..\..
OutputDir=dist
OutputBaseFilename=codatdesk-{#AppVersion}-windows-setup
SetupIconFile=resources\icons\codatdesk.ico
UninstallDisplayIcon={app}\codatdesk.exe
Compression=lzma2
SolidCompression=yes
WizardStyle=modern

[Files]
; The whole onedir folder; an upgrade first removes the old program folder's files (InstallDelete).
Source: "dist\codatdesk\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[InstallDelete]
Type: filesandordirs; Name: "{app}\_internal"

[Icons]
Name: "{autoprograms}\codatdesk"; Filename: "{app}\codatdesk.exe"
Name: "{autodesktop}\codatdesk"; Filename: "{app}\codatdesk.exe"; Tasks: desktopicon

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; Flags: unchecked

[Run]
Filename: "{app}\codatdesk.exe"; Description: "{cm:LaunchProgram,codatdesk}"; Flags: nowait postinstall skipifsilent
